import {
  type AcceptJob,
  Batcher,
  callbackEmitter,
  channels,
  createQueues,
  createRedis,
  type EmitCallback,
  jobNames,
  type Queues,
  type RedisConnection,
} from '@herald/shared';
import type { JobsOptions } from 'bullmq';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    redis: RedisConnection;
    queues: Queues;
    /**
     * Adds one accept job. The jobs of all requests in one turn of the event loop go to Redis as
     * one addBulk (one round trip, one socket write); resolves once this job is in Redis.
     */
    addAccept(job: AcceptJob, opts: JobsOptions): Promise<void>;
    /** Queues a callback for a status change the API makes (cancel, resend). */
    emitCallback: EmitCallback;
    /** Resolves when the worker announces the end of a send attempt of `id`, or after `ms`. */
    waitForAttempt(id: string, ms: number): { promise: Promise<boolean>; cancel(): void };
  }
}

/**
 * Redis: the queues the API adds to, a command connection (idempotency keys, pings), and one
 * subscriber that wakes `immediate` requests when their first attempt is done.
 */
export default fp(
  async (app) => {
    const { config } = app;
    // Fail fast while Redis is away: a request gets a 503 instead of waiting for the reconnect.
    // (Only workers need BullMQ's `maxRetriesPerRequest: null`; the API adds and reads.)
    const redis = createRedis(config, { maxRetriesPerRequest: 2 }, app.log);
    const subscriber = createRedis(config, {}, app.log);
    const queues = createQueues(redis, config.QUEUE_PREFIX);
    const waiters = new Map<string, Set<() => void>>();
    const channel = channels(config.QUEUE_PREFIX).attempts;

    await subscriber.subscribe(channel);
    subscriber.on('message', (ch: string, payload: string) => {
      if (ch !== channel) return;
      const id = payload.split('|', 1)[0] ?? '';
      for (const wake of waiters.get(id) ?? []) wake();
    });

    app.decorate<RedisConnection>('redis', redis);
    app.decorate('queues', queues);
    const accepts = new Batcher<{ data: AcceptJob; opts: JobsOptions }, undefined>(async (items) => {
      await queues.accept.addBulk(items.map(({ data, opts }) => ({ name: jobNames.accept, data, opts })));
      return items.map(() => undefined);
    });
    app.decorate('addAccept', (data: AcceptJob, opts: JobsOptions) => accepts.add({ data, opts }));
    app.decorate(
      'emitCallback',
      callbackEmitter({
        queue: queues.callback,
        redis,
        prefix: config.QUEUE_PREFIX,
        attempts: config.CALLBACK_ATTEMPTS,
        backoffMs: config.CALLBACK_RETRY_BASE_MS,
        warn: (obj, msg) => app.log.warn(obj, msg),
      }),
    );
    app.decorate('waitForAttempt', (id: string, ms: number) => {
      let timer: NodeJS.Timeout | undefined;
      let wake: () => void = () => undefined;
      const promise = new Promise<boolean>((resolve) => {
        wake = () => {
          cleanup();
          resolve(true);
        };
        timer = setTimeout(() => {
          cleanup();
          resolve(false);
        }, ms);
        const set = waiters.get(id) ?? new Set();
        set.add(wake);
        waiters.set(id, set);
      });
      function cleanup() {
        clearTimeout(timer);
        const set = waiters.get(id);
        set?.delete(wake);
        if (set?.size === 0) waiters.delete(id);
      }
      return { promise, cancel: cleanup };
    });

    app.addHook('onClose', async () => {
      // The store's pending counter writes may hold locks in this Redis: let them finish first.
      if (app.hasDecorator('store')) await app.store.statistics.idle();
      await Promise.all(Object.values(queues).map((q) => q.close()));
      await subscriber.quit().catch(() => undefined);
      await redis.quit().catch(() => undefined);
    });
  },
  { name: 'queues', dependencies: ['config'] },
);
