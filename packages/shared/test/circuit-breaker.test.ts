import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { SenderBreakers } from '../src/index.ts';

// The breaker's rules on real Redis, where the many-sends-in-flight cases are easy to set up: a
// send begun before the breaker opened may fail long after (a timeout), and must not decide.

const redis = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
afterAll(() => redis.quit());

const breakers = () =>
  new SenderBreakers(redis, `{breaker-test-${randomUUID().slice(0, 8)}}`, {
    failures: 3,
    windowMs: 30_000,
    cooldownMs: 200,
    probeHoldMs: 5000,
  });

async function openThenHalfOpen(b: SenderBreakers, id: string) {
  for (let i = 0; i < 3; i++) await b.failure(id, 'timeout');
  expect((await b.view(id)).state).toBe('open');
  await new Promise((r) => setTimeout(r, 250));
  const probe = await b.acquire(id);
  expect(probe).toMatchObject({ kind: 'go', probe: true });
  expect((await b.view(id)).state).toBe('half_open');
}

describe('a sender\u2019s breaker', () => {
  it('half-open, is not reopened by a late failure of a send begun before it opened; only the probe decides', async () => {
    const b = breakers();
    await openThenHalfOpen(b, 's1');
    expect(await b.failure('s1', 'timeout', false)).toEqual({ state: 'half_open', opened: false });
    expect((await b.view('s1')).state).toBe('half_open');
    // Everyone else still waits for the probe.
    expect((await b.acquire('s1')).kind).toBe('wait');
    await b.success('s1');
    expect((await b.view('s1')).state).toBe('closed');
  });

  it("half-open, reopens on the probe's own failure", async () => {
    const b = breakers();
    await openThenHalfOpen(b, 's2');
    expect(await b.failure('s2', 'timeout', true)).toEqual({ state: 'open', opened: true });
    expect((await b.acquire('s2')).kind).toBe('wait');
  });

  it('counts failures in the order sends began: a timeout answering after a later send was answered is no part of a run', async () => {
    const b = breakers();
    const t0 = Date.now();
    // Five sends go out together; a sixth, begun just after, is answered at once; then the five
    // time out, seconds later. The provider worked after they began: the breaker stays closed.
    await b.success('s4', t0 + 10);
    for (let i = 0; i < 5; i++) await b.failure('s4', 'timeout', false, t0 + i);
    expect((await b.view('s4')).state).toBe('closed');
    // Sends begun after the last answered one do count.
    for (let i = 0; i < 3; i++) await b.failure('s4', 'timeout', false, t0 + 20 + i);
    expect((await b.view('s4')).state).toBe('open');
  });

  it('a closed breaker opens only on failures in a row: any answer in between ends the run', async () => {
    const b = breakers();
    await b.failure('s3', 'http_503');
    await b.failure('s3', 'http_503');
    await b.success('s3');
    await b.failure('s3', 'http_503');
    await b.failure('s3', 'http_503');
    expect((await b.view('s3')).state).toBe('closed');
    await b.failure('s3', 'http_503');
    expect((await b.view('s3')).state).toBe('open');
  });
});
