import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getMessage, metaWebhook, postMetaWebhook, reminder, send, simFor } from './helpers.ts';
import { metric, type Stack, scrape, startStack, uniquePhone, waitFor } from './stack.ts';

// Issue 16: an inbound STOP is obeyed at once, whatever the backlog. Status events for unknown
// provider ids make the backlog cheaply: each is retried for STATUS_ORPHAN_AFTER_MS (a minute
// here), so they keep holding the status workers while the STOP arrives.

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ worker: false, env: { STATUS_ORPHAN_AFTER_MS: '60000' } });
}, 60_000);
afterAll(() => stack?.close(), 60_000);

async function postMeta(raw: string): Promise<void> {
  const status = await postMetaWebhook(stack, raw);
  if (status !== 200) throw new Error(`webhook answered ${status}`);
}

/** An inbound text from `phone`, as Meta posts it. */
const inboundBody = (phone: string, text: string) =>
  metaWebhook({
    contacts: [{ profile: { name: 'Asha' }, wa_id: phone.slice(1) }],
    messages: [
      {
        from: phone.slice(1),
        id: `wamid.${randomUUID()}`,
        timestamp: String(Math.floor(Date.now() / 1000)),
        type: 'text',
        text: { body: text },
      },
    ],
  });

/** `requests` signed status webhooks (two events each) for provider ids no message has, 50 at a time. */
async function statusBacklog(requests: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (next < requests) {
        next += 1;
        const ts = String(Math.floor(Date.now() / 1000));
        await postMeta(
          metaWebhook({
            statuses: ['delivered', 'read'].map((status) => ({
              id: `wamid.unknown-${randomUUID()}`,
              status,
              timestamp: ts,
              recipient_id: '919876543210',
            })),
          }),
        );
      }
    }),
  );
}

const statusWaiting = async () => {
  const c = await stack.queues.status.getJobCounts('waiting', 'prioritized', 'active', 'delayed');
  return (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.active ?? 0) + (c.delayed ?? 0);
};
const optedOut = async (phone: string) => (await stack.store.settings.get(phone))?.opted_out;
const sendingSwitch = (to: 'pause' | 'resume') =>
  stack.api.inject({
    method: 'POST',
    url: `/api/notifications/sending/${to}`,
    headers: { authorization: `Bearer ${stack.token('admin')}` },
  });

describe('opt-out first', () => {
  it('under thousands of waiting status events a STOP takes effect within 2 s, and a send accepted after it is suppressed', async () => {
    // The backlog is queued before any worker runs, so all of it is waiting when the STOP comes.
    await statusBacklog(3000);
    await stack.startWorker();
    const backlog = await statusWaiting();
    expect(backlog, 'status jobs waiting when the STOP arrives').toBeGreaterThanOrEqual(2500);

    const phone = uniquePhone();
    const metricsBefore = await scrape(`${stack.apiUrl}/metrics`);
    const arrived = Date.now();
    await postMeta(inboundBody(phone, ' Stop '));
    await waitFor(async () => (await optedOut(phone)) === true, { intervalMs: 10, timeoutMs: 10_000, what: 'the opt-out' });
    const effectMs = Date.now() - arrived;
    const stillWaiting = await statusWaiting();
    process.stderr.write(`[stop-first] STOP took effect in ${effectMs} ms with ${backlog} status jobs waiting (${stillWaiting} still)\n`);
    expect(effectMs).toBeLessThanOrEqual(2000);
    // It went past the backlog rather than through it.
    expect(stillWaiting).toBeGreaterThan(1000);
    expect((await stack.store.settings.get(phone))?.source).toBe('meta:inbound');

    // The time is on the histogram, measured from the webhook's arrival at the API.
    const metrics = await scrape(`${stack.apiUrl}/metrics`);
    const labels = { provider: 'meta', direction: 'out' };
    expect(
      metric(metrics, 'herald_opt_out_effect_seconds_count', labels) - metric(metricsBefore, 'herald_opt_out_effect_seconds_count', labels),
    ).toBe(1);
    const within2s = (m: typeof metrics) => metric(m, 'herald_opt_out_effect_seconds_bucket', { ...labels, le: '2' });
    expect(within2s(metrics) - within2s(metricsBefore)).toBe(1);

    const after = await send(stack, reminder(phone));
    expect(after.status).toBe(200);
    expect(after.body.status).toBe('suppressed');
    expect((await simFor(stack, phone)).requests).toHaveLength(0);
  }, 180_000);

  it('a message queued before the STOP and not yet sent ends suppressed with the reason, and nothing reaches the provider', async () => {
    const phone = uniquePhone();
    // Sent once first: every process now holds "no preferences" for this number in its cache,
    // so only the invalidation can make the next send see the opt-out.
    const first = await send(stack, reminder(phone, { immediate: true }));
    expect(first.body.status).toBe('sent');

    expect((await sendingSwitch('pause')).statusCode).toBe(200);
    let queued: { id: string; status: string };
    try {
      queued = (await send(stack, reminder(phone, { reference_id: 'queued-before-stop' }))).body;
      expect(queued.status).toBe('queued');
      await waitFor(async () => (await stack.store.messages.get(queued.id))?.status === 'queued', { what: 'the message in history' });
      await postMeta(inboundBody(phone, 'UNSUBSCRIBE'));
      await waitFor(async () => (await optedOut(phone)) === true, { what: 'the opt-out' });
    } finally {
      expect((await sendingSwitch('resume')).statusCode).toBe(200);
    }

    const done = await waitFor(
      async () => {
        const m = (await getMessage(stack, queued.id)).body;
        return m.status === 'queued' ? undefined : m;
      },
      { timeoutMs: 30_000, what: 'the queued message to end' },
    );
    expect(done.status).toBe('suppressed');
    expect(done.events.at(-1)).toMatchObject({ status: 'suppressed', source: 'worker', detail: 'recipient opted out before it was sent' });
    const received = await simFor(stack, phone);
    expect(received.requests).toHaveLength(1); // the first message only
    expect(received.messages.map((m) => m.id)).not.toContain(queued.id);
  }, 120_000);

  it('a message scheduled before the STOP is suppressed when it comes due', async () => {
    const phone = uniquePhone();
    const sendAt = new Date(Date.now() + 3000).toISOString();
    const scheduled = await send(stack, reminder(phone, { send_at: sendAt }));
    expect(scheduled.body.status).toBe('scheduled');
    await postMeta(inboundBody(phone, 'stop'));
    await waitFor(async () => (await optedOut(phone)) === true, { what: 'the opt-out' });
    const done = await waitFor(
      async () => {
        const m = (await getMessage(stack, scheduled.body.id)).body;
        return m.status === 'scheduled' || m.status === 'queued' ? undefined : m;
      },
      { timeoutMs: 30_000, what: 'the scheduled message to end' },
    );
    expect(done.status).toBe('suppressed');
    expect(done.events.map((e: { status: string }) => e.status)).toEqual(['scheduled', 'suppressed']);
    expect((await simFor(stack, phone)).requests).toHaveLength(0);
  }, 60_000);

  it('a request with both status events and a STOP queues each where it belongs, and its replay changes nothing', async () => {
    const phone = uniquePhone();
    const raw = metaWebhook({
      statuses: [{ id: `wamid.unknown-${randomUUID()}`, status: 'delivered', timestamp: '1764000000', recipient_id: phone.slice(1) }],
      messages: [{ from: phone.slice(1), id: `wamid.${randomUUID()}`, timestamp: '1764000001', type: 'text', text: { body: 'STOP' } }],
    });
    const before = await stack.queues.inbound.getJobCounts('completed', 'waiting', 'active');
    await postMeta(raw);
    await waitFor(async () => (await optedOut(phone)) === true, { what: 'the opt-out' });
    // The opt-out is written before its job completes: wait for the job too.
    const hash = await waitFor(
      async () => (await stack.queues.inbound.getJobs(['completed'], 0, 10_000)).find((j) => j.data.messages[0]?.from === phone)?.id,
      { what: 'the inbound job completed' },
    );
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    const statusJob = await stack.queues.status.getJob(hash as string);
    expect(statusJob?.data.inbound).toEqual([]);
    expect(statusJob?.data.statuses).toHaveLength(1);

    // The same bytes again: answered 200, nothing queued. An inbound-only request dedups too.
    await postMeta(raw);
    const inboundOnly = inboundBody(phone, 'START');
    await postMeta(inboundOnly);
    await postMeta(inboundOnly);
    await waitFor(async () => (await optedOut(phone)) === false, { what: 'the opt-in' });
    const after = await stack.queues.inbound.getJobCounts('completed', 'waiting', 'active');
    const total = (c: typeof before) => (c.completed ?? 0) + (c.waiting ?? 0) + (c.active ?? 0);
    expect(total(after) - total(before)).toBe(2);
  }, 60_000);
});
