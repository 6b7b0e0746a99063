import { jobNames } from '@herald/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, metric, type SpawnedProcess, type Stack, scrape, spawnHerald, startStack, uniquePhone, waitFor } from './stack.ts';

// Pace per sender across workers (issue 13, item 3): two Meta senders at 10 and 40 messages per
// second, 400 messages each, through three worker processes; each sender's rate, measured at the
// simulator from the times it received that sender's requests, is within 5 % of its mps. Then a
// burst of 429s on the slow sender leaves the fast one's rate where it was.
// PACE_MESSAGES=100 for a quicker local run.

const perSender = Number(process.env.PACE_MESSAGES ?? 400);
const slow = { id: 'pace-slow', phone_number_id: '106540352242931', mps: 10 };
const fast = { id: 'pace-fast', phone_number_id: '106540352242932', mps: 40 };
const workersN = 3;

let stack: Stack;
const workers: { proc: SpawnedProcess; url: string }[] = [];

beforeAll(async () => {
  stack = await startStack({ worker: false, env: { WORKER_CONCURRENCY: '20' } });
  // No status webhooks: the machine's time goes to sending, which is what is measured.
  await stack.faults({ webhooks: { statuses: [] } });
  for (let i = 0; i < workersN; i++) {
    const port = await freePort();
    workers.push({
      proc: spawnHerald('apps/worker/test/fixtures/paced-worker.ts', stack.config, {
        WORKER_METRICS_PORT: String(port),
        PACE_TEST_SENDERS: JSON.stringify([slow, fast]),
      }),
      url: `http://127.0.0.1:${port}`,
    });
  }
  for (const w of workers) {
    await waitFor(
      async () => {
        if (w.proc.child.exitCode !== null) throw new Error(`worker exited: ${w.proc.output()}`);
        return fetch(`${w.url}/health/ready`).then(
          (r) => r.ok,
          () => false,
        );
      },
      { timeoutMs: 30_000, what: 'a worker to be ready' },
    );
  }
}, 60_000);
afterAll(async () => {
  for (const w of workers) if (w.proc.child.exitCode === null) w.proc.child.kill('SIGTERM');
  for (const w of workers) await w.proc.exited;
  await stack?.close();
});

interface SimMessage {
  to: string;
  sender: string | null;
  received_at: string;
}
interface SimRequest {
  to: string;
  at: string;
  outcome: string;
}
const sim = async () =>
  (await (await fetch(`${stack.sim.url}/_sim/messages`)).json()) as { messages: SimMessage[]; requests: SimRequest[] };

/**
 * Accepts `count` messages per sender through the API while sending is paused, then names each
 * job's sender. (Naming the sender at accept is the API's part of issue 13, item 2; the worker
 * only reads `sender` from the job, so setting it on the queued job exercises the same path.)
 */
async function queue(counts: Map<typeof slow, number>): Promise<Map<string, string>> {
  const token = stack.token('service');
  const senderOf = new Map<string, string>();
  const phones: string[] = [];
  for (const [sender, count] of counts) {
    for (let i = 0; i < count; i++) {
      const phone = uniquePhone();
      senderOf.set(phone, sender.id);
      phones.push(phone);
    }
  }
  await stack.queues.send.pause();
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < phones.length) {
        const phone = phones[next++] as string;
        const res = await stack.api.inject({
          method: 'POST',
          url: '/api/notifications/send-message',
          headers: { authorization: `Bearer ${token}` },
          payload: { phone, message_type: 'system_alert', context: { alert_message: 'Water supply off 2-4 pm' }, immediate: false },
        });
        expect(res.statusCode).toBe(202);
      }
    }),
  );
  await stack.settled(60_000);
  await waitFor(async () => (await stack.queues.send.getWaitingCount()) >= phones.length, { what: 'the send jobs' });
  const jobs = await stack.queues.send.getJobs(['waiting'], 0, -1);
  await Promise.all(
    jobs.map(async (job) => {
      const sender = senderOf.get(job.data.phone);
      if (sender && job.name === jobNames.send) await job.updateData({ ...job.data, sender });
    }),
  );
  return senderOf;
}

/** Sends per second over the steady part (the middle 80 % of the sends): (n − 1) / span. */
function steadyRate(times: number[]): { rate: number; n: number; spanS: number } {
  const t = [...times].sort((a, b) => a - b);
  const from = Math.floor(t.length * 0.1);
  const to = Math.ceil(t.length * 0.9) - 1;
  const spanS = ((t[to] as number) - (t[from] as number)) / 1000;
  return { rate: (to - from) / spanS, n: t.length, spanS };
}

async function received(phones: Map<string, string>, phoneNumberId: string, senderId: string): Promise<number[]> {
  return (await sim()).messages
    .filter((m) => m.sender === phoneNumberId && phones.get(m.to) === senderId)
    .map((m) => Date.parse(m.received_at));
}

async function workerMetric(name: string, labels: Record<string, string>): Promise<number> {
  const values = await Promise.all(workers.map(async (w) => metric(await scrape(`${w.url}/metrics`), name, labels)));
  return values.reduce((a, b) => a + b, 0);
}

describe(`${workersN} worker processes, two senders`, () => {
  let fastRate = 0;

  it(`hold each sender's own pace: ${perSender} messages each at ${slow.mps}/s and ${fast.mps}/s, both within 5 %`, async () => {
    const phones = await queue(
      new Map([
        [slow, perSender],
        [fast, perSender],
      ]),
    );
    const resumed = Date.now();
    await stack.queues.send.resume();
    await waitFor(async () => (await received(phones, slow.phone_number_id, slow.id)).length >= perSender, {
      timeoutMs: (perSender / slow.mps) * 1500 + 60_000,
      intervalMs: 1000,
      what: `${perSender} messages of the slow sender`,
    });
    const s = steadyRate(await received(phones, slow.phone_number_id, slow.id));
    const f = steadyRate(await received(phones, fast.phone_number_id, fast.id));
    fastRate = f.rate;
    const sends = await workerMetric('herald_sender_sends_total', { sender: fast.id });
    const deferrals = await workerMetric('herald_sender_pace_deferrals_total', { sender: fast.id });
    const slowSends = await workerMetric('herald_sender_sends_total', { sender: slow.id });
    const slowDeferrals = await workerMetric('herald_sender_pace_deferrals_total', { sender: slow.id });
    console.info(
      `pacing: slow ${s.n} sends, ${s.rate.toFixed(2)}/s at mps ${slow.mps} (steady ${s.spanS.toFixed(1)} s); ` +
        `fast ${f.n} sends, ${f.rate.toFixed(2)}/s at mps ${fast.mps} (steady ${f.spanS.toFixed(1)} s); ` +
        `all sent ${((Date.now() - resumed) / 1000).toFixed(1)} s after resume; ` +
        `deferrals per send: slow ${(slowDeferrals / slowSends).toFixed(2)}, fast ${(deferrals / sends).toFixed(2)}`,
    );
    expect(s.n).toBe(perSender);
    expect(f.n).toBe(perSender);
    expect(s.rate).toBeGreaterThanOrEqual(slow.mps * 0.95);
    expect(s.rate).toBeLessThanOrEqual(slow.mps * 1.05);
    expect(f.rate).toBeGreaterThanOrEqual(fast.mps * 0.95);
    expect(f.rate).toBeLessThanOrEqual(fast.mps * 1.05);
    expect(sends).toBe(perSender);
    expect(slowSends).toBe(perSender);
  }, 300_000);

  it("a burst of 429s on the slow sender pauses it only: the fast sender's rate is unchanged", async () => {
    const burst = 8;
    const phones = await queue(
      new Map([
        [slow, 40],
        [fast, perSender],
      ]),
    );
    // Each 429 carries Retry-After: 1 s, and pauses the slow sender (in every worker) for it.
    await stack.faults({
      webhooks: { statuses: [] },
      script: Array.from({ length: burst }, () => ({ http_429: true, retry_after_s: 1, sender: slow.phone_number_id })),
    });
    const throttlesBefore = await workerMetric('herald_sender_throttles_total', { sender: slow.id });
    await stack.queues.send.resume();
    await waitFor(async () => (await received(phones, fast.phone_number_id, fast.id)).length >= perSender, {
      timeoutMs: (perSender / fast.mps) * 1500 + 60_000,
      intervalMs: 500,
      what: `${perSender} messages of the fast sender`,
    });
    const fastTimes = await received(phones, fast.phone_number_id, fast.id);
    const f = steadyRate(fastTimes);
    // Meanwhile the slow sender was throttled and paused, by a second per 429.
    const slowThrottled = (await sim()).requests.filter((r) => phones.get(r.to) === slow.id && r.outcome === '429').length;
    console.info(
      `pacing under a 429 burst on the slow sender: fast ${f.rate.toFixed(2)}/s (before: ${fastRate.toFixed(2)}/s), ` +
        `slow answered 429 ${slowThrottled} times while the fast sent`,
    );
    expect(slowThrottled).toBeGreaterThan(0);
    expect(f.n).toBe(perSender);
    expect(f.rate).toBeGreaterThanOrEqual(fast.mps * 0.95);
    expect(f.rate).toBeLessThanOrEqual(fast.mps * 1.05);
    expect(Math.abs(f.rate - fastRate) / fastRate).toBeLessThanOrEqual(0.05);

    // The slow sender's messages all go once the burst is over, each on its first attempt; each
    // 429 paused it for its Retry-After.
    await waitFor(async () => (await received(phones, slow.phone_number_id, slow.id)).length >= 40, {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: "the slow sender's messages after the burst",
    });
    const slowRequests = (await sim()).requests.filter((r) => phones.get(r.to) === slow.id);
    expect(slowRequests.filter((r) => r.outcome === '429')).toHaveLength(burst);
    expect((await workerMetric('herald_sender_throttles_total', { sender: slow.id })) - throttlesBefore).toBe(burst);
    const times = slowRequests.map((r) => Date.parse(r.at)).sort((a, b) => a - b);
    expect((times.at(-1) as number) - (times[0] as number)).toBeGreaterThanOrEqual(burst * 1000 - 100);
    const ids = (await stack.queues.send.getJobs(['completed'], 0, -1)).filter((j) => phones.get(j.data.phone) === slow.id);
    expect(ids).toHaveLength(40);
    // BullMQ counts the finished attempt itself: 1 is the first attempt; the 429s used none.
    for (const job of ids) expect(job.attemptsMade).toBe(1);
  }, 300_000);
});
