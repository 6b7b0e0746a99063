import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reminder, sendSurely } from '../helpers.ts';
import { type Stack, startStack, uniquePhone, waitFor } from '../stack.ts';

const mps = 10;
const total = 60;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { PROVIDER_MPS: String(mps), WORKER_CONCURRENCY: '20' } });
  await stack.startWorker(); // two worker processes' worth of workers on one queue
});
afterAll(() => stack?.close());

describe('PROVIDER_MPS', () => {
  it(`holds across two workers: ${total} messages at ${mps}/s take at least ${Math.ceil(total / mps) - 2} s`, async () => {
    await stack.faults({ webhooks: { statuses: [] } });
    const phones = new Set<string>();
    const ids: string[] = [];
    for (let i = 0; i < total; i += 25) {
      const batch = Array.from({ length: Math.min(25, total - i) }, () => uniquePhone());
      for (const p of batch) phones.add(p);
      const answers = await Promise.all(
        batch.map((p) => sendSurely(stack, reminder(p, { immediate: false, idempotency_key: `rate:${p}` }))),
      );
      ids.push(...answers.map((a) => a.body.id as string));
    }
    await waitFor(async () => (await stack.store.messages.count({ ids, status: 'sent' })) === total, {
      timeoutMs: 60_000,
      intervalMs: 250,
      what: 'all sent',
    });
    const sim = (await (await fetch(`${stack.sim.url}/_sim/messages`)).json()) as {
      requests: { to: string; at: string; outcome: string }[];
    };
    // First acceptance per phone (a job re-run on a loaded machine could send twice).
    const first = new Map<string, number>();
    for (const r of sim.requests) if (phones.has(r.to) && r.outcome === 'accepted' && !first.has(r.to)) first.set(r.to, Date.parse(r.at));
    const times = [...first.values()].sort((a, b) => a - b);
    expect(times).toHaveLength(total);
    // BullMQ's limiter allows `mps` jobs per 1 s window, shared in Redis by every worker: the
    // sends span at least (windows − 1) seconds however slow the machine is; a second of slack
    // absorbs request jitter. Without the limiter 60 sends at concurrency 40 take well under 2 s.
    const spanMs = (times.at(-1) ?? 0) - (times[0] ?? 0);
    expect(spanMs).toBeGreaterThanOrEqual((Math.ceil(total / mps) - 2) * 1000);
    console.log(
      `rate limit: ${total} sends by 2 workers in ${spanMs} ms = ${(((total - 1) * 1000) / spanMs).toFixed(1)}/s at PROVIDER_MPS=${mps}`,
    );
  });
});
