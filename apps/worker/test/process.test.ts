import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, spawnHerald, startStack, uniquePhone, waitFor } from './stack.ts';

// The worker as a real process: what happens to in-flight sends when it is killed or stopped.

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ worker: false, env: { LOG_LEVEL: 'info' } });
});
afterAll(() => stack?.close());

async function accept(phone: string): Promise<string> {
  const res = await stack.api.inject({
    method: 'POST',
    url: '/api/notifications/send-message',
    headers: { authorization: `Bearer ${stack.token('service')}` },
    payload: { phone, message_type: 'system_alert', context: { alert_message: 'Water supply off 2-4 pm' }, immediate: false },
  });
  expect(res.statusCode).toBe(202);
  return res.json().id;
}

async function simRequests(phone: string) {
  const res = await fetch(`${stack.sim.url}/_sim/messages?to=${encodeURIComponent(phone)}`);
  return (await res.json()) as { messages: unknown[]; requests: { outcome: string }[] };
}

const statusOf = async (id: string) => (await stack.store.messages.get(id))?.status;

describe('worker process', () => {
  it('SIGTERM lets the in-flight send finish, records it, and exits 0', async () => {
    const phone = uniquePhone();
    await stack.faults({ script: [{ latency_ms: 1500, to: phone }] });
    const worker = spawnHerald('apps/worker/src/main.ts', stack.config);
    const id = await accept(phone);
    await waitFor(async () => (await stack.queues.send.getActiveCount()) > 0, { what: 'the send to be in flight' });
    worker.child.kill('SIGTERM');
    const code = await worker.exited;
    if (code !== 0) console.error(worker.output());
    expect(code).toBe(0);
    expect(await statusOf(id)).toBe('sent');
    expect((await simRequests(phone)).messages).toHaveLength(1);
  });

  it('SIGKILL mid-send: the worker that takes the job over waits for the webhook instead of sending again', async () => {
    const phone = uniquePhone();
    await stack.faults({ script: [{ latency_ms: 1500, to: phone }] });
    const first = spawnHerald('apps/worker/src/main.ts', stack.config);
    const id = await accept(phone);
    // Killed while the provider holds the request (1.5 s): the job marks its attempt in flight
    // just before the call; a kill before that mark would be an ordinary takeover.
    await waitFor(async () => (await stack.queues.send.getJob(id))?.data.in_flight !== undefined, { what: 'the send to be in flight' });
    await new Promise((r) => setTimeout(r, 300));
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');

    const second = spawnHerald('apps/worker/src/main.ts', stack.config);
    try {
      // The dead worker's lock lapses after WORKER_LOCK_MS (4 s in tests); then the job is stalled
      // and taken over. Its attempt was marked in flight: the provider may have it, so the new
      // worker waits for the status webhook (which names the message) rather than sending again.
      await waitFor(async () => ['sent', 'delivered', 'read'].includes((await statusOf(id)) ?? ''), {
        timeoutMs: 30_000,
        what: 'the message to be sent after the takeover',
      });
      const seen = await simRequests(phone);
      expect(seen.messages).toHaveLength(1);
      const doc = await stack.store.messages.get(id);
      expect(doc?.events.filter((e) => e.status === 'sent' && e.source === 'worker')).toHaveLength(1);
      expect(doc?.events.find((e) => e.status === 'unknown')?.detail).toContain('stopped before');
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });
});
