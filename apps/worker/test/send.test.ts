import { jobNames, newMessageDocument, newMessageId, type SendJob, sendJobOptions } from '@herald/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, uniquePhone, waitFor } from './stack.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.close());

async function accept(phone: string): Promise<string> {
  const res = await stack.api.inject({
    method: 'POST',
    url: '/api/notifications/send-message',
    headers: { authorization: `Bearer ${stack.token('service')}` },
    payload: { phone, message_type: 'delivery_delayed', context: { eta_time: '18:30' }, immediate: false },
  });
  expect(res.statusCode).toBe(202);
  return res.json().id;
}
const message = (id: string) => stack.store.messages.get(id);
const isSent = async (id: string) => ['sent', 'delivered', 'read'].includes((await message(id))?.status ?? '');
async function simRequests(phone: string) {
  const res = await fetch(`${stack.sim.url}/_sim/messages?to=${encodeURIComponent(phone)}`);
  return (await res.json()) as { messages: unknown[]; requests: { outcome: string }[] };
}

describe('send processor', () => {
  it('a job that already holds the provider id records the send without calling the provider again', async () => {
    // What a retry sees after the provider accepted but the history write failed.
    const phone = uniquePhone();
    const id = newMessageId();
    const now = new Date();
    await stack.store.messages.insert(
      newMessageDocument({
        _id: id,
        tenant: 'default',
        phone,
        message_type: 'delivery_delayed',
        context: { eta_time: '18:30' },
        status: 'queued',
        provider: 'meta',
        created_at: now,
        queued_at: now,
      }),
    );
    const job: SendJob = {
      v: 1,
      id,
      tenant: 'default',
      phone,
      message_type: 'delivery_delayed',
      context: { eta_time: '18:30' },
      expires_at: null,
      queued_at: now.toISOString(),
      provider_message_id: 'wamid.ACCEPTED-EARLIER',
      sent_at: now.toISOString(),
      message_text: '⏰ Your delivery is running late. New ETA: 18:30.',
      template_version: 1,
    };
    await stack.queues.send.add(jobNames.send, job, sendJobOptions(stack.config, id, 0));
    await waitFor(() => isSent(id), { what: 'the recorded send' });
    const doc = await message(id);
    expect(doc?.provider_message_id).toBe('wamid.ACCEPTED-EARLIER');
    expect(doc?.message_text).toBe(job.message_text);
    expect((await simRequests(phone)).requests).toHaveLength(0);
  });

  it('HTTP 429 with Retry-After pauses its sender for that long, without using an attempt', async () => {
    const phone = uniquePhone();
    await stack.faults({ script: [{ http_429: true, retry_after_s: 2, to: phone }] });
    const started = Date.now();
    const id = await accept(phone);
    await waitFor(() => isSent(id), { what: 'sent after the pause' });
    const doc = await message(id);
    expect(doc?.attempts).toBe(1);
    expect(doc?.events.find((e) => e.status === 'throttled')?.detail).toContain('2000 ms');
    expect((doc?.sent_at?.getTime() ?? 0) - started).toBeGreaterThanOrEqual(1900);
  });

  it('131056 (pair rate limit) delays only that recipient; other messages flow meanwhile', async () => {
    const slow = uniquePhone();
    const other = uniquePhone();
    await stack.faults({ script: [{ code: 131056, to: slow }] });
    const delayed = await accept(slow);
    await waitFor(async () => (await message(delayed))?.events.some((e) => e.status === 'delayed'), { what: 'the delay' });
    const flowing = await accept(other);
    await waitFor(() => isSent(flowing), { timeoutMs: 3000, what: 'the other recipient to be served while the first waits' });
    expect(await isSent(delayed)).toBe(false);
    await waitFor(() => isSent(delayed), { timeoutMs: 15_000, what: 'the delayed message to go after its wait' });
    const doc = await message(delayed);
    expect(doc?.attempts).toBe(1);
    expect(doc?.events.find((e) => e.status === 'delayed')?.detail).toContain('131056');
  });
});
