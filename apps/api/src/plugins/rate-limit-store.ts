import { Batcher, type RedisConnection } from '@herald/shared';

/** INCR, and the window's expiry set when the count starts (as @fastify/rate-limit's own store does). */
const incrLua = `
local current = redis.call('INCR', KEYS[1])
if current == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) return {current, tonumber(ARGV[1])} end
return {current, redis.call('PTTL', KEYS[1])}
`;

type Result = { current: number; ttl: number };
type Callback = (err: Error | null, result?: Result) => void;
type Counting = RedisConnection & { heraldRateLimit(key: string, windowMs: number): Promise<[number, number]> };

/**
 * A @fastify/rate-limit store that counts in Redis like the plugin's own RedisStore (so every API
 * instance shares the counts, exactly), but sends the increments of all requests that arrive in
 * one turn of the event loop as one pipeline: under load that is one Redis round trip and one
 * socket write for dozens of requests instead of one each. An idle API adds no wait (the flush
 * runs on setImmediate).
 */
export function pipelinedRedisStore(redis: RedisConnection, prefix: string) {
  const counting = redis as Counting;
  if (typeof counting.heraldRateLimit !== 'function') redis.defineCommand('heraldRateLimit', { numberOfKeys: 1, lua: incrLua });
  const batcher = new Batcher<{ key: string; windowMs: number }, Result>(async (items) => {
    const pipeline = redis.pipeline();
    for (const { key, windowMs } of items) (pipeline as unknown as Counting).heraldRateLimit(key, windowMs);
    const results = (await pipeline.exec()) ?? [];
    return items.map((_item, i) => {
      const [err, value] = results[i] ?? [new Error('no answer from Redis'), null];
      if (err) return err;
      const [current, ttl] = value as [number, number];
      return { current, ttl };
    });
  });

  return class PipelinedRedisStore {
    readonly #prefix: string;
    constructor(_options?: unknown, routePrefix = prefix) {
      this.#prefix = routePrefix;
    }
    incr(key: string, cb: Callback, timeWindow: number): void {
      batcher.add({ key: this.#prefix + key, windowMs: timeWindow }).then(
        (result) => cb(null, result),
        (err: Error) => cb(err),
      );
    }
    /** A route with its own limits counts under its own keys (the plugin passes `routeInfo`). */
    child(routeOptions: object): PipelinedRedisStore {
      const info = (routeOptions as { routeInfo?: { method: string; url: string } }).routeInfo;
      return new PipelinedRedisStore(undefined, `${this.#prefix}${info?.method ?? ''}${info?.url ?? ''}-`);
    }
  };
}
