import type { RedisConnection } from '@herald/shared';

/**
 * Each sender's pace, shared by every worker: a GCRA (generic cell rate algorithm) per sender in
 * Redis, one Lua script per decision, so any number of workers together send at most `mps` per
 * second for a sender and never burst. Time is Redis's own (`TIME`), so the workers' clocks do
 * not matter; what leaves Redis is a wait in ms, relative.
 *
 * A job whose slot is further than `sleepMaxMs` away reserves the slot (keyed by its job id) and
 * is moved to BullMQ's delayed set until then, so a job waiting for its slot holds no concurrency
 * slot of any worker and no other sender's job waits behind it. When it comes back it claims its
 * reservation (one more script call). A throttle starts a new epoch: reservations taken before it
 * are void, and their jobs queue again behind the pause.
 */

// KEYS[1] the sender's bucket: tat (theoretical arrival time, µs), epoch, paused_until (µs),
//         pause (the last back-off without Retry-After, ms)
// KEYS[2] this job's reservation: "<slot µs>:<epoch>"
// ARGV[1] emission interval in µs (1e6 / mps); ARGV[2] sleep_max in µs
// Returns {kind, wait_ms}: kind 0 = send after wait_ms (in-process), 1 = reserved: come back in
// wait_ms. Numbers go to Redis through string.format: Lua's tostring keeps 14 digits, and a
// time in µs has 16.
const takeScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local b = redis.call('HMGET', KEYS[1], 'tat', 'epoch')
local tat = tonumber(b[1]) or 0
local epoch = b[2] or '0'
local sleepMax = tonumber(ARGV[2])
local held = redis.call('GET', KEYS[2])
if held then
  local slot, e = string.match(held, '^(%d+):(%d+)$')
  if e == epoch then
    slot = tonumber(slot)
    if slot - now <= sleepMax then
      redis.call('DEL', KEYS[2])
      return {0, math.max(0, math.floor((slot - now) / 1000))}
    end
    return {1, math.ceil((slot - now) / 1000)}
  end
end
local slot = math.max(tat, now)
local nextTat = slot + tonumber(ARGV[1])
redis.call('HSET', KEYS[1], 'tat', string.format('%.0f', nextTat), 'epoch', epoch)
redis.call('PEXPIRE', KEYS[1], math.floor((nextTat - now) / 1000) + 60000)
if slot - now <= sleepMax then
  if held then redis.call('DEL', KEYS[2]) end
  return {0, math.floor((slot - now) / 1000)}
end
local wait = math.ceil((slot - now) / 1000)
redis.call('SET', KEYS[2], string.format('%.0f', slot) .. ':' .. epoch, 'PX', wait + 60000)
return {1, wait}
`;

// KEYS[1] the sender's bucket. ARGV[1] Retry-After in ms, or -1; ARGV[2] min back-off ms;
// ARGV[3] max back-off ms. Returns {pause_ms, started}: started 0 when the sender was already
// paused (an answer to a request that was in flight when the pause began): it neither extends
// nor doubles the pause.
const throttleScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local b = redis.call('HMGET', KEYS[1], 'paused_until', 'pause')
local pausedUntil = tonumber(b[1]) or 0
if pausedUntil > now then return {math.ceil((pausedUntil - now) / 1000), 0} end
local retryAfter = tonumber(ARGV[1])
local pause
if retryAfter >= 0 then
  pause = retryAfter
else
  -- Throttled again within one back-off of the last pause's end: the provider still objects.
  local last = tonumber(b[2]) or 0
  if last > 0 and now - pausedUntil <= last * 2000 then
    pause = math.min(last * 2, tonumber(ARGV[3]))
  else
    pause = tonumber(ARGV[2])
  end
  redis.call('HSET', KEYS[1], 'pause', pause)
end
local untilUs = now + pause * 1000
redis.call('HSET', KEYS[1], 'paused_until', string.format('%.0f', untilUs), 'tat', string.format('%.0f', untilUs))
redis.call('HINCRBY', KEYS[1], 'epoch', 1)
redis.call('PEXPIRE', KEYS[1], pause + math.max(60000, tonumber(ARGV[3]) * 3))
return {pause, 1}
`;

/** What pacing needs to know of a sender. */
export interface PacedSender {
  id: string;
  /** Messages per second: 1..1000 for stored senders (Meta's tiers); PROVIDER_MPS may be higher. */
  mps: number;
}

/** The decision for one job: send after `waitMs` in this process, or come back after `waitMs`. */
export type PaceDecision = { kind: 'send'; waitMs: number } | { kind: 'defer'; waitMs: number };

export interface PaceOptions {
  /**
   * A slot at most this far away is waited for in-process (holding the worker's concurrency slot
   * that long) rather than by a round trip through the delayed set. @defaultValue 25 (ms)
   */
  sleepMaxMs?: number;
  /** Back-off after a throttle without Retry-After: this, doubling while the provider keeps throttling. @defaultValue 1000 (ms) */
  throttleMinMs?: number;
  /** The longest back-off. @defaultValue 60000 (ms) */
  throttleMaxMs?: number;
}

type PaceCommands = {
  heraldPaceTake(bucket: string, reservation: string, intervalUs: string, sleepMaxUs: string): Promise<[number, number]>;
  heraldPaceThrottle(bucket: string, retryAfterMs: string, minMs: string, maxMs: string): Promise<[number, number]>;
};

export class SenderPace {
  readonly #redis: RedisConnection & PaceCommands;
  readonly #prefix: string;
  readonly #opts: Required<PaceOptions>;

  /** `prefix`: QUEUE_PREFIX, so a cluster keeps these keys in the queues' slot. */
  constructor(redis: RedisConnection, prefix: string, opts: PaceOptions = {}) {
    this.#opts = { sleepMaxMs: 25, throttleMinMs: 1000, throttleMaxMs: 60_000, ...opts };
    if (!(this.#opts.throttleMinMs > 0 && this.#opts.throttleMaxMs >= this.#opts.throttleMinMs)) {
      throw new Error('SenderPace: throttleMinMs must be > 0 and at most throttleMaxMs');
    }
    // defineCommand is idempotent per connection: ioredis runs EVALSHA and falls back to EVAL.
    redis.defineCommand('heraldPaceTake', { numberOfKeys: 2, lua: takeScript });
    redis.defineCommand('heraldPaceThrottle', { numberOfKeys: 1, lua: throttleScript });
    this.#redis = redis as RedisConnection & PaceCommands;
    this.#prefix = prefix;
  }

  #bucket(senderId: string): string {
    return `${this.#prefix}:pace:${senderId}`;
  }

  /**
   * One slot of `sender` for the job `jobId`: the job's reserved slot if it holds one from before
   * the sender's last throttle, else the next free one. One Redis round trip.
   */
  async take(sender: PacedSender, jobId: string): Promise<PaceDecision> {
    // Stored senders take 1..1000 (Meta's tiers, checked when saved); the deployment's own
    // PROVIDER_MPS may be higher (benchmarks raise it to 100,000 to take pacing out of the measure).
    if (!(Number.isInteger(sender.mps) && sender.mps >= 1)) {
      throw new Error(`sender ${sender.id}: mps must be a whole number of at least 1 (got ${sender.mps})`);
    }
    const bucket = this.#bucket(sender.id);
    const [kind, waitMs] = await this.#redis.heraldPaceTake(
      bucket,
      `${bucket}:r:${jobId}`,
      (1_000_000 / sender.mps).toFixed(0),
      String(this.#opts.sleepMaxMs * 1000),
    );
    return { kind: kind === 0 ? 'send' : 'defer', waitMs: Number(waitMs) };
  }

  /**
   * The provider throttled `senderId`: pauses that sender (only) for `retryAfterMs`, or the
   * back-off, in every worker. `started` is false when the sender was already paused.
   */
  async throttled(senderId: string, retryAfterMs: number | undefined): Promise<{ pauseMs: number; started: boolean }> {
    const [pauseMs, started] = await this.#redis.heraldPaceThrottle(
      this.#bucket(senderId),
      String(retryAfterMs === undefined ? -1 : Math.max(0, Math.round(retryAfterMs))),
      String(this.#opts.throttleMinMs),
      String(this.#opts.throttleMaxMs),
    );
    return { pauseMs: Number(pauseMs), started: started === 1 };
  }
}
