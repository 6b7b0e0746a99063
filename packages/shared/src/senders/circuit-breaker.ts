import type { RedisConnection } from '../queues/queues.ts';

/**
 * A circuit breaker per sender, shared by every worker through Redis (as the sender's pace is):
 * one Lua script per decision, Redis's clock, so all workers see one state and the API can show
 * it.
 *
 * - closed: sends go through. A transient failure (5xx, connection refused, timeout, unknown
 *   outcome) counts toward a run; a success ends the run. `failures` in a row within `windowMs`
 *   open the breaker. "In a row" is in the order sends began: a failure of a send begun before
 *   one that has since been answered counts for nothing (a timeout answers seconds after the
 *   sends that overtook it, and says nothing newer than they do).
 * - open: no send goes to the provider until `cooldownMs` has passed since it opened.
 * - half_open: after the cool-down one send (the probe) is let through; while it is in flight
 *   (at most `probeHoldMs`) every other send waits. The probe's success closes the breaker, its
 *   failure opens it for another cool-down. Failures of sends begun before it opened (a timeout
 *   answering late) are ignored while it is open or half-open.
 *
 * Chosen over an in-process breaker (opossum and the like): with several workers each would open
 * on its own share of the failures and the API could not tell what state a sender is in.
 */

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerOptions {
  /** Transient failures in a row that open the breaker. @defaultValue 5 */
  failures: number;
  /** The run must fall within this window, in ms (an older first failure starts a new run). @defaultValue 30000 */
  windowMs: number;
  /** How long an open breaker refuses before it lets one probe through, in ms. @defaultValue 30000 */
  cooldownMs: number;
  /** How long a probe holds the half-open breaker before another may try, in ms (the provider timeout and some). */
  probeHoldMs: number;
}

/** The decision for one send: go (`probe`: as the half-open breaker's only probe), or wait `waitMs`. */
export type BreakerDecision = { kind: 'go'; probe: boolean } | { kind: 'wait'; waitMs: number; state: BreakerState };

/** A breaker's state as operators see it (senders API, health, console). */
export interface BreakerView {
  state: BreakerState;
  /** Transient failures in the current run. */
  failures: number;
  opened_at: string | null;
  /** When an open breaker lets its probe through. */
  retry_at: string | null;
  /** The code of the last transient failure. */
  last_error: string | null;
}

// All scripts: KEYS[1] the sender's breaker hash (state, failures, run_start, opened_at,
// probe_until, last_error; times in ms), KEYS[2] the set of senders whose breaker is not closed.
const clock = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

// ARGV[1] cool-down ms, ARGV[2] probe hold ms. Returns {kind, n, x}: kind 0 go, 1 probe, 2 wait.
// probe: x = 1 when this call moved open → half_open;
// wait: n = ms to wait, x = 2 open, 1 half-open (a probe in flight).
const acquireScript = `${clock}
local b = redis.call('HMGET', KEYS[1], 'state', 'opened_at', 'probe_until')
local state = b[1] or 'closed'
if state == 'closed' then return {0, 0, 0} end
if state == 'open' then
  local retryAt = (tonumber(b[2]) or 0) + tonumber(ARGV[1])
  if now < retryAt then return {2, retryAt - now, 2} end
  redis.call('HSET', KEYS[1], 'state', 'half_open', 'probe_until', now + tonumber(ARGV[2]))
  return {1, 0, 1}
end
local probeUntil = tonumber(b[3]) or 0
-- A probe is in flight: look again within a second (it usually answers sooner than its hold).
if now < probeUntil then return {2, math.min(probeUntil - now, 1000), 1} end
redis.call('HSET', KEYS[1], 'probe_until', now + tonumber(ARGV[2]))
return {1, 0, 0}
`;

// ARGV[1] failures that open, ARGV[2] window ms, ARGV[3] error code, ARGV[4] sender id,
// ARGV[5] '1' when the failed send was the half-open breaker's probe, ARGV[6] when it began (ms).
// Returns {state, opened}: state 0 closed, 1 half-open, 2 open; opened 1 when this failure opened it.
const failureScript = `${clock}
local b = redis.call('HMGET', KEYS[1], 'state', 'failures', 'run_start', 'ok_begun')
local state = b[1] or 'closed'
redis.call('HSET', KEYS[1], 'last_error', ARGV[3])
if state == 'open' then return {2, 0} end
-- A send begun after this one has been answered since: the provider worked after this send
-- began, so its failure (a timeout, answering late) is no part of a run.
if state == 'closed' and tonumber(ARGV[6]) < (tonumber(b[4]) or 0) then return {0, 0} end
if state == 'half_open' then
  -- Only the probe speaks for the provider now: a send begun before the breaker opened, failing
  -- late (a timeout), says nothing new.
  if ARGV[5] ~= '1' then return {1, 0} end
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at', now, 'probe_until', 0)
  redis.call('SADD', KEYS[2], ARGV[4])
  return {2, 1}
end
local n = tonumber(b[2]) or 0
local start = tonumber(b[3]) or 0
if n == 0 or now - start > tonumber(ARGV[2]) then n = 0; start = now end
n = n + 1
if n >= tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'state', 'open', 'failures', n, 'run_start', start, 'opened_at', now, 'probe_until', 0)
  redis.call('SADD', KEYS[2], ARGV[4])
  return {2, 1}
end
redis.call('HSET', KEYS[1], 'failures', n, 'run_start', start)
return {0, 0}
`;

// ARGV[1] sender id, ARGV[2] when the answered send began (ms). Ends the run; closes a half-open
// breaker (the probe came through). Keeps the latest start of an answered send (ok_begun): a
// failure of a send begun before it counts for nothing. Returns 1 when it closed the breaker.
const successScript = `
local b = redis.call('HMGET', KEYS[1], 'state', 'failures', 'ok_begun')
local state = b[1] or 'closed'
if tonumber(ARGV[2]) > (tonumber(b[3]) or 0) then redis.call('HSET', KEYS[1], 'ok_begun', ARGV[2]) end
if state == 'open' then return 0 end
if state == 'closed' and (tonumber(b[2]) or 0) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'state', 'closed', 'failures', 0, 'probe_until', 0)
redis.call('SREM', KEYS[2], ARGV[1])
if state == 'half_open' then return 1 end
return 0
`;

type BreakerCommands = {
  heraldBreakerAcquire(key: string, open: string, cooldownMs: string, probeHoldMs: string): Promise<[number, number, number]>;
  heraldBreakerFailure(
    key: string,
    open: string,
    failures: string,
    windowMs: string,
    code: string,
    id: string,
    probe: string,
    begun: string,
  ): Promise<[number, number]>;
  heraldBreakerSuccess(key: string, open: string, id: string, begun: string): Promise<number>;
};

export const defaultBreakerOptions: BreakerOptions = { failures: 5, windowMs: 30_000, cooldownMs: 30_000, probeHoldMs: 15_000 };

export class SenderBreakers {
  readonly #redis: RedisConnection & BreakerCommands;
  readonly #prefix: string;
  readonly #opts: BreakerOptions;

  /** `prefix`: QUEUE_PREFIX, so a cluster keeps these keys with the queues'. */
  constructor(redis: RedisConnection, prefix: string, opts: Partial<BreakerOptions> = {}) {
    this.#opts = { ...defaultBreakerOptions, ...opts };
    if (!(Number.isInteger(this.#opts.failures) && this.#opts.failures >= 1)) throw new Error('SenderBreakers: failures must be ≥ 1');
    redis.defineCommand('heraldBreakerAcquire', { numberOfKeys: 2, lua: acquireScript });
    redis.defineCommand('heraldBreakerFailure', { numberOfKeys: 2, lua: failureScript });
    redis.defineCommand('heraldBreakerSuccess', { numberOfKeys: 2, lua: successScript });
    this.#redis = redis as RedisConnection & BreakerCommands;
    this.#prefix = prefix;
  }

  get options(): Readonly<BreakerOptions> {
    return this.#opts;
  }

  #key(senderId: string): string {
    return `${this.#prefix}:breaker:${senderId}`;
  }

  get #openSet(): string {
    return `${this.#prefix}:breakers:open`;
  }

  /** May a send go to `senderId` now? One Redis round trip. `halfOpened`: this call let the first probe through. */
  async acquire(senderId: string): Promise<BreakerDecision & { halfOpened: boolean }> {
    const [kind, n, transition] = await this.#redis.heraldBreakerAcquire(
      this.#key(senderId),
      this.#openSet,
      String(this.#opts.cooldownMs),
      String(this.#opts.probeHoldMs),
    );
    if (kind === 2) return { kind: 'wait', waitMs: Number(n), state: transition === 2 ? 'open' : 'half_open', halfOpened: false };
    return { kind: 'go', probe: kind === 1, halfOpened: transition === 1 };
  }

  /**
   * A transient failure of a send through `senderId` begun at `begunAt` (epoch ms). It counts
   * toward a run only if no send begun later has been answered meanwhile (with many sends in
   * flight, timeouts answer seconds after the sends that overtook them). `opened`: this failure
   * opened the breaker.
   */
  async failure(senderId: string, code: string, probe = false, begunAt = Date.now()): Promise<{ state: BreakerState; opened: boolean }> {
    const [state, opened] = await this.#redis.heraldBreakerFailure(
      this.#key(senderId),
      this.#openSet,
      String(this.#opts.failures),
      String(this.#opts.windowMs),
      code.slice(0, 64),
      senderId,
      probe ? '1' : '0',
      String(begunAt),
    );
    return { state: state === 2 ? 'open' : state === 1 ? 'half_open' : 'closed', opened: opened === 1 };
  }

  /**
   * A send through `senderId`, begun at `begunAt` (epoch ms), was answered (accepted, or refused
   * for a reason of its own): ends the run. `closed`: the probe closed it.
   */
  async success(senderId: string, begunAt = Date.now()): Promise<{ closed: boolean }> {
    return { closed: (await this.#redis.heraldBreakerSuccess(this.#key(senderId), this.#openSet, senderId, String(begunAt))) === 1 };
  }

  /** The breaker of `senderId` as operators see it. */
  async view(senderId: string): Promise<BreakerView> {
    const h = await this.#redis.hgetall(this.#key(senderId));
    const state = (h.state as BreakerState | undefined) ?? 'closed';
    const openedAt = h.opened_at && state !== 'closed' ? Number(h.opened_at) : null;
    return {
      state,
      failures: Number(h.failures ?? 0),
      opened_at: openedAt ? new Date(openedAt).toISOString() : null,
      retry_at: state === 'open' && openedAt ? new Date(openedAt + this.#opts.cooldownMs).toISOString() : null,
      last_error: h.last_error ?? null,
    };
  }

  /** Senders whose breaker is open or half-open. */
  async notClosed(): Promise<string[]> {
    return (await this.#redis.smembers(this.#openSet)).sort();
  }
}
