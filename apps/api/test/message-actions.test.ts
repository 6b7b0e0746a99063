import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getMessage, reminder, send } from './helpers.ts';
import { type Stack, startStack, uniquePhone, waitFor } from './stack.ts';

let stack: Stack;

// Retries wait 10 minutes here: only process-queue can make them happen within the test.
beforeAll(async () => {
  stack = await startStack({ env: { RETRY_BASE_DELAY_MS: '600000' } });
});
afterAll(() => stack?.close());

async function call(
  method: 'GET' | 'PUT' | 'POST' | 'DELETE',
  url: string,
  opts: { role?: 'admin' | 'service' | 'viewer'; tenant?: string; payload?: object } = {},
) {
  const res = await stack.api.inject({
    method,
    url: `/api/notifications${url}`,
    headers: { authorization: `Bearer ${stack.token(opts.role ?? 'admin', opts.tenant)}` },
    ...(opts.payload ? { payload: opts.payload } : {}),
  });
  return { status: res.statusCode, body: res.json() };
}

const statusOf = async (id: string) => (await getMessage(stack, id, { role: 'admin' })).body;
const until = (id: string, ok: (m: { status: string; attempts: number }) => boolean, what: string) =>
  waitFor(
    async () => {
      const m = await statusOf(id);
      return ok(m) ? m : undefined;
    },
    { timeoutMs: 20_000, what },
  );

describe('cancel', () => {
  it('cancels a scheduled message, which is then never sent; a second cancel is 409', async () => {
    const sendAt = new Date(Date.now() + 3_600_000).toISOString();
    const { body } = await send(stack, reminder(uniquePhone(), { send_at: sendAt }));
    expect(body.status).toBe('scheduled');
    const res = await call('DELETE', `/messages/${body.id}`, { role: 'service' });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('cancelled');
    expect(await stack.queues.send.getJob(body.id)).toBeUndefined();
    const m = await statusOf(body.id);
    expect(m.events.at(-1)).toMatchObject({ status: 'cancelled', source: 'admin' });
    expect((await call('DELETE', `/messages/${body.id}`, { role: 'service' })).status).toBe(409);
  });

  it('refuses to cancel a sent message (409), another tenant’s (404), or with a viewer token (403)', async () => {
    const { body } = await send(stack, reminder(uniquePhone()), { tenant: 'acme' });
    await until(body.id, (m) => m.status !== 'queued', 'sent');
    expect((await call('DELETE', `/messages/${body.id}`, { role: 'service', tenant: 'acme' })).status).toBe(409);
    expect((await call('DELETE', `/messages/${body.id}`, { role: 'service', tenant: 'globex' })).status).toBe(404);
    expect((await call('DELETE', `/messages/${body.id}`, { role: 'viewer', tenant: 'acme' })).status).toBe(403);
    expect((await call('DELETE', '/messages/not-an-id', { role: 'service' })).status).toBe(404);
  });
});

describe('resend and process-queue', () => {
  it('process-queue cuts retry waits short, then resends a retryably failed message; attempts stay in the timeline', async () => {
    const phone = uniquePhone();
    await stack.faults({ script: Array.from({ length: 3 }, () => ({ code: 131000, to: phone })) });
    const { body } = await send(stack, reminder(phone, { immediate: false }));
    // A scheduled message next to it must keep its time.
    const later = await send(stack, reminder(uniquePhone(), { send_at: new Date(Date.now() + 3_600_000).toISOString() }));

    // The record is written before BullMQ moves the job to delayed: wait for the job itself.
    const delayedAfter = (attempts: number) =>
      waitFor(
        async () => {
          const job = await stack.queues.send.getJob(body.id);
          return job && job.attemptsMade === attempts && (await job.getState()) === 'delayed';
        },
        { timeoutMs: 20_000, what: `job delayed after attempt ${attempts}` },
      );
    await delayedAfter(1);
    let pq = await call('POST', '/process-queue');
    expect(pq.status).toBe(200);
    expect(pq.body.promoted).toBeGreaterThanOrEqual(1);
    await delayedAfter(2);
    await call('POST', '/process-queue');
    const failed = await until(body.id, (m) => m.status === 'failed', 'failed after 3 attempts');
    expect(failed.error).toMatchObject({ retryable: true });

    pq = await call('POST', '/process-queue');
    expect(pq.body.retried).toBeGreaterThanOrEqual(1);
    const sent = await until(body.id, (m) => ['sent', 'delivered', 'read'].includes(m.status), 'sent after resend');
    expect(sent.id).toBe(body.id);
    const kinds = sent.events.map((e: { status: string }) => e.status);
    expect(kinds.filter((k: string) => k === 'attempt_failed')).toHaveLength(2);
    expect(kinds).toContain('failed');
    expect(kinds).toContain('resent');
    expect(kinds).toContain('sent');

    const scheduled = await statusOf(later.body.id);
    expect(scheduled.status).toBe('scheduled');
    expect(await (await stack.queues.send.getJob(later.body.id))?.getState()).toBe('delayed');
  });

  it('process-queue never resends a permanent failure; an admin resend does, and resend of a non-failed message is 409', async () => {
    const phone = uniquePhone();
    await stack.faults({ script: [{ code: 131026, to: phone }] });
    const { body } = await send(stack, reminder(phone));
    const failed = await until(body.id, (m) => m.status === 'failed', 'permanent failure');
    expect(failed.error).toMatchObject({ retryable: false });
    await call('POST', '/process-queue');
    expect((await statusOf(body.id)).status).toBe('failed');

    expect((await call('POST', `/resend/${body.id}`, { role: 'service' })).status).toBe(403);
    const res = await call('POST', `/resend/${body.id}`);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ id: body.id, status: 'queued' });
    const again = await until(body.id, (m) => ['sent', 'delivered', 'read'].includes(m.status), 'sent after resend');
    expect(again.events.filter((e: { status: string }) => e.status === 'failed')).toHaveLength(1);
    expect((await call('POST', `/resend/${body.id}`)).status).toBe(409);
  });
});

describe('settings', () => {
  it('reads defaults, sets opt-out and disabled types (admin only), and sends are suppressed accordingly', async () => {
    const phone = uniquePhone();
    const local = phone.slice(1); // no plus in the path
    const empty = await call('GET', `/settings/${local}`, { role: 'viewer' });
    expect(empty.body).toMatchObject({ phone, opted_out: false, disabled_types: [] });
    expect((await call('PUT', `/settings/${local}`, { role: 'service', payload: { opted_out: true } })).status).toBe(403);
    const bad = await call('PUT', `/settings/${local}`, { payload: { disabled_types: ['nope'] } });
    expect(bad.status).toBe(400);
    expect(bad.body.issues[0].path).toBe('disabled_types');

    const set = await call('PUT', `/settings/${encodeURIComponent(phone)}`, { payload: { disabled_types: ['delivery_reminder'] } });
    expect(set.body).toMatchObject({ phone, opted_out: false, disabled_types: ['delivery_reminder'] });
    expect((await send(stack, reminder(phone))).body.status).toBe('suppressed');
    const other = await send(stack, { phone, message_type: 'system_alert', context: { alert_message: 'hi' }, immediate: false });
    expect(other.body.status).toBe('queued');

    await call('PUT', `/settings/${local}`, { payload: { opted_out: true } });
    const got = await call('GET', `/settings/${local}`, { role: 'viewer' });
    expect(got.body).toMatchObject({ opted_out: true, disabled_types: ['delivery_reminder'] });
    expect((await send(stack, { phone, message_type: 'system_alert', context: { alert_message: 'hi' } })).body.status).toBe('suppressed');
    expect((await call('GET', '/settings/12', { role: 'viewer' })).status).toBe(400);
  });
});
