import { randomUUID } from 'node:crypto';
import { createRedis } from '@herald/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metaWebhook, postMetaWebhook, reminder, send } from './helpers.ts';
import { type Stack, startStack, uniquePhone, waitFor } from './stack.ts';

let stack: Stack;
beforeAll(async () => {
  // The simulator's own webhooks stay away: this test posts the ones it needs.
  stack = await startStack({ webhookDelaysMs: { sent: 600_000, delivered: 600_000, read: 600_000 } });
});
afterAll(() => stack?.close());

const postMeta = async (raw: string) => expect(await postMetaWebhook(stack, raw)).toBe(200);

/** Every value under the stack's Redis prefix, as text: jobs, their payloads, counters, keys. */
async function redisText(): Promise<string> {
  const redis = createRedis(stack.config);
  try {
    const keys = await redis.keys(`${stack.config.QUEUE_PREFIX}*`);
    const parts: string[] = [...keys];
    for (const key of keys) {
      const type = await redis.type(key);
      if (type === 'string') parts.push((await redis.get(key)) ?? '');
      else if (type === 'hash') parts.push(JSON.stringify(await redis.hgetall(key)));
      else if (type === 'list') parts.push(JSON.stringify(await redis.lrange(key, 0, -1)));
      else if (type === 'set') parts.push(JSON.stringify(await redis.smembers(key)));
      else if (type === 'zset') parts.push(JSON.stringify(await redis.zrange(key, '0', '-1')));
      else if (type === 'stream') parts.push(JSON.stringify(await redis.call('XRANGE', key, '-', '+')));
    }
    return parts.join('\n');
  } finally {
    await redis.quit();
  }
}

describe('erasing a person', () => {
  it('leaves nothing in the database or the queues that names them: messages, jobs, settings, orphans (parsed and raw), callbacks', async () => {
    const phone = uniquePhone();
    const digits = phone.slice(1);
    const national = phone.slice(3);

    // History: a sent message with a callback (its receiver is down, so the callback waits for a
    // retry) and a personal attachment, and one scheduled for tomorrow (a pending job).
    const sent = await send(
      stack,
      reminder(phone, {
        callback_url: 'http://127.0.0.1:9/hook',
        reference_id: `ref-${digits}`,
        media: { type: 'document', url: `https://cdn.example.com/invoices/${digits}.pdf`, filename: 'invoice.pdf' },
      }),
    );
    expect(sent.body.status).toBe('sent');
    const scheduled = await send(stack, reminder(phone, { send_at: new Date(Date.now() + 86_400_000).toISOString() }));
    expect(scheduled.body.status).toBe('scheduled');
    await waitFor(async () => ((await stack.queues.callback.getJobCounts('delayed')).delayed ?? 0) > 0, {
      what: 'the callback to wait for a retry',
    });

    // Webhooks naming them: a status for a message Herald never sent (kept as an orphan after its
    // retries), an event Herald cannot map (kept raw), and their STOP (a setting).
    await postMeta(
      metaWebhook({ statuses: [{ id: `wamid.${randomUUID()}`, status: 'delivered', timestamp: '1764000000', recipient_id: digits }] }),
    );
    const raw = JSON.stringify({
      event_id: randomUUID(),
      event_type: 'whatsapp.conversation.note',
      payload: { note: `customer ${phone} asked for a call` },
    });
    const viaSim = await fetch(`${stack.sim.url}/_sim/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ provider: 'myoperator', body: raw, signature: 'valid' }),
    });
    expect(viaSim.ok).toBe(true);
    await postMeta(
      metaWebhook({
        contacts: [{ profile: { name: 'Asha' }, wa_id: digits }],
        messages: [{ from: digits, id: `wamid.${randomUUID()}`, timestamp: '1764000001', type: 'text', text: { body: 'STOP' } }],
      }),
    );
    await waitFor(async () => (await stack.store.settings.get(phone))?.opted_out === true, { what: 'the opt-out' });
    await waitFor(
      async () => ((await stack.store.orphans.list()).filter((o) => JSON.stringify(o).includes(digits)).length === 2 ? true : undefined),
      {
        timeoutMs: 30_000,
        what: 'both orphans to be kept',
      },
    );
    expect((await stack.store.mentions([digits])).length).toBeGreaterThan(0);

    const res = await stack.api.inject({
      method: 'DELETE',
      url: `/api/v1/admin/people/${encodeURIComponent(phone)}`,
      headers: { authorization: `Bearer ${stack.token('admin')}` },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ messages_anonymised: 2, jobs_removed: 1, settings_removed: 1, orphan_events_removed: 2 });
    expect(res.json().callbacks_removed).toBeGreaterThanOrEqual(1);

    // Nothing in any collection, nor anywhere under the queue prefix, names them.
    expect(await stack.store.mentions([digits, national, `ref-${digits}`])).toEqual([]);
    const queued = await redisText();
    expect(queued.includes(national), 'a Redis key or value still names the erased number').toBe(false);
    // The messages remain, anonymised, for the statistics.
    expect(await stack.store.messages.get(sent.body.id)).toMatchObject({ phone: 'erased', status: 'sent' });
    expect(await stack.store.messages.get(scheduled.body.id)).toMatchObject({ phone: 'erased', status: 'cancelled' });
  });
});
