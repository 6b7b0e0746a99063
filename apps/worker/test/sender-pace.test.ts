import { randomUUID } from 'node:crypto';
import { createRedis, type RedisConnection } from '@herald/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PacedSender, SenderPace } from '../src/pacing/sender-pace.ts';

// The sender bucket itself against real Redis: two connections (two workers' worth) draw from
// one bucket, as jobs do — a deferred draw comes back after its wait and claims its reservation.

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `{herald-test-pace-${randomUUID().slice(0, 8)}}`;
let a: RedisConnection;
let b: RedisConnection;

beforeAll(() => {
  a = createRedis({ REDIS_URL: redisUrl, REDIS_CLUSTER_NODES: undefined });
  b = createRedis({ REDIS_URL: redisUrl, REDIS_CLUSTER_NODES: undefined });
});
afterAll(async () => {
  const keys = await a.keys(`${prefix}*`);
  if (keys.length > 0) await a.del(...keys);
  await a.quit();
  await b.quit();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One job's life: draws, waits out a deferral (as the delayed set would), claims; resolves when it may send. */
async function sendWhenAllowed(pace: SenderPace, sender: PacedSender, jobId: string): Promise<number> {
  for (let hops = 0; hops < 20; hops++) {
    const d = await pace.take(sender, jobId);
    if (d.kind === 'send') {
      if (d.waitMs > 0) await sleep(d.waitMs);
      return Date.now();
    }
    await sleep(d.waitMs);
  }
  throw new Error(`job ${jobId} never got its slot`);
}

/** Sends per second over the middle 80 % (the first draws meet an empty bucket). */
function steadyRate(times: number[]): number {
  const t = [...times].sort((x, y) => x - y);
  const from = Math.floor(t.length * 0.1);
  const to = Math.ceil(t.length * 0.9) - 1;
  return ((to - from) * 1000) / ((t[to] as number) - (t[from] as number));
}

describe('SenderPace (one bucket, two connections)', () => {
  it('holds a sender at its mps however many draw at once, evenly spaced', async () => {
    const sender = { id: 'bucket-a', mps: 50 };
    const paces = [new SenderPace(a, prefix), new SenderPace(b, prefix)];
    const n = 150;
    // 150 jobs all at once, alternately on the two connections: a backlog.
    const times = await Promise.all(Array.from({ length: n }, (_, i) => sendWhenAllowed(paces[i % 2] as SenderPace, sender, `job-${i}`)));
    const rate = steadyRate(times);
    console.info(`bucket: ${n} draws over two connections at mps=${sender.mps}: ${rate.toFixed(2)}/s`);
    expect(rate).toBeGreaterThan(sender.mps * 0.95);
    expect(rate).toBeLessThan(sender.mps * 1.05);
    // Evenly spaced, not in bursts (a fixed one-second window would let all 50 go at once, and up
    // to twice that within a sliding second): the typical gap is 1/mps, and no sliding second holds
    // more than mps plus the timers' jitter.
    const sorted = [...times].sort((x, y) => x - y);
    const gaps = sorted.slice(1).map((t, i) => t - (sorted[i] as number));
    const median = [...gaps].sort((x, y) => x - y)[Math.floor(gaps.length / 2)] as number;
    expect(Math.abs(median - 1000 / sender.mps)).toBeLessThanOrEqual(3);
    let most = 0;
    for (let i = 0, j = 0; i < sorted.length; i++) {
      while ((sorted[i] as number) - (sorted[j] as number) >= 1000) j++;
      most = Math.max(most, i - j + 1);
    }
    expect(most).toBeLessThanOrEqual(sender.mps * 1.1);
  }, 30_000);

  it('two senders draw independently: one at 10/s does not slow one at 40/s', async () => {
    const pace = new SenderPace(a, prefix);
    const slow = { id: 'bucket-slow', mps: 10 };
    const fast = { id: 'bucket-fast', mps: 40 };
    const [slowTimes, fastTimes] = await Promise.all([
      Promise.all(Array.from({ length: 20 }, (_, i) => sendWhenAllowed(pace, slow, `s-${i}`))),
      Promise.all(Array.from({ length: 80 }, (_, i) => sendWhenAllowed(pace, fast, `f-${i}`))),
    ]);
    expect(steadyRate(fastTimes)).toBeGreaterThan(fast.mps * 0.95);
    expect(steadyRate(fastTimes)).toBeLessThan(fast.mps * 1.05);
    expect(steadyRate(slowTimes)).toBeLessThan(slow.mps * 1.05);
  }, 30_000);

  it('a throttle pauses that sender for Retry-After, voids earlier reservations, and leaves other senders alone', async () => {
    const p1 = new SenderPace(a, prefix);
    const p2 = new SenderPace(b, prefix);
    const s = { id: 'bucket-throttled', mps: 10 };
    const other = { id: 'bucket-other', mps: 10 };
    expect((await p1.take(s, 'first')).kind).toBe('send');
    const reserved = await p1.take(s, 'second');
    expect(reserved).toMatchObject({ kind: 'defer' });
    expect(reserved.waitMs).toBeLessThanOrEqual(100);

    const started = Date.now();
    expect(await p2.throttled(s.id, 1500)).toEqual({ pauseMs: 1500, started: true });
    // An answer to a request that was already in flight neither extends nor restarts the pause.
    const again = await p1.throttled(s.id, 5000);
    expect(again.started).toBe(false);
    expect(again.pauseMs).toBeLessThanOrEqual(1500);

    // The reservation from before the throttle is void: it comes back and queues after the pause.
    await sleep(reserved.waitMs);
    const after = await p1.take(s, 'second');
    expect(after.kind).toBe('defer');
    expect(Date.now() - started + after.waitMs).toBeGreaterThanOrEqual(1450);
    // Another sender is not paused.
    expect(await p2.take(other, 'x')).toEqual({ kind: 'send', waitMs: 0 });
    // Once the pause is over, the first slot after it is the voided job's.
    await sleep(after.waitMs);
    expect((await p1.take(s, 'second')).kind).toBe('send');
  }, 15_000);

  it('without Retry-After the pause is 1 s, doubling while the provider keeps throttling', async () => {
    const pace = new SenderPace(a, prefix, { throttleMinMs: 200, throttleMaxMs: 1000 });
    const id = 'bucket-backoff';
    const pauses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const t = await pace.throttled(id, undefined);
      expect(t.started).toBe(true);
      pauses.push(t.pauseMs);
      await sleep(t.pauseMs + 20);
    }
    expect(pauses).toEqual([200, 400, 800, 1000]);
    // Quiet for longer than twice the last pause: back to the start.
    await sleep(2100);
    expect((await pace.throttled(id, undefined)).pauseMs).toBe(200);
  }, 15_000);

  it('refuses an mps below 1, naming the sender', async () => {
    const pace = new SenderPace(a, prefix);
    await expect(pace.take({ id: 'bad', mps: 0 }, 'j')).rejects.toThrow(/sender bad: mps/);
    await expect(pace.take({ id: 'bad', mps: 2.5 }, 'j')).rejects.toThrow(/sender bad: mps/);
  });

  it('takes a PROVIDER_MPS far above Meta\u2019s tiers (benchmarks raise it to take the pace out of the measure)', async () => {
    const pace = new SenderPace(a, prefix);
    const sender = { id: `fast-${randomUUID().slice(0, 6)}`, mps: 100_000 };
    const decisions = await Promise.all(Array.from({ length: 50 }, (_, i) => pace.take(sender, `j${i}`)));
    expect(decisions.every((d) => d.kind === 'send')).toBe(true);
  });
});
