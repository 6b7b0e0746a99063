import {
  AcceptanceProofs,
  type BreakerView,
  channels,
  createRedis,
  type RedisConnection,
  SenderBreakers,
  SenderMirror,
} from '@herald/shared';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    /** Every stored sender in memory: choosing a message's sender never waits on the database. */
    senderMirror: SenderMirror;
    /** Each sender's circuit breaker as the workers keep it in Redis (read-only here). */
    breakers: SenderBreakers;
    /** A sender's breaker, or null when Redis cannot say. */
    breakerOf(senderId: string): Promise<BreakerView | null>;
    /** When each sender's webhooks last arrived (for the senders API and the console). */
    lastWebhook: LastWebhook;
    /** Webhooks' proofs of acceptance for sends whose answer was lost (issue 14), kept as they arrive. */
    proofs: AcceptanceProofs;
  }
}

/**
 * When a verified webhook last arrived per sender, kept in one Redis hash so every API process
 * sees the same. Written at most once a second per sender per process (a burst of webhooks costs
 * one HSET), without waiting: the webhook's answer never waits on this.
 */
export class LastWebhook {
  readonly #written = new Map<string, number>();
  readonly #redis: RedisConnection;
  readonly #key: string;
  constructor(redis: RedisConnection, key: string) {
    this.#redis = redis;
    this.#key = key;
  }

  mark(senderId: string, now = Date.now()): void {
    if (now - (this.#written.get(senderId) ?? 0) < 1000) return;
    this.#written.set(senderId, now);
    this.#redis.hset(this.#key, senderId, new Date(now).toISOString()).catch(() => this.#written.delete(senderId));
  }

  /** The times, by sender id; a sender without one (or Redis away) is absent. */
  async of(senderIds: string[]): Promise<Map<string, string>> {
    if (senderIds.length === 0) return new Map();
    const values = await this.#redis.hmget(this.#key, ...senderIds).catch(() => [] as (string | null)[]);
    return new Map(senderIds.flatMap((id, i) => (values[i] ? [[id, values[i] as string]] : [])));
  }
}

/** The sender mirror (see SenderMirror): loaded at start, read again on every announced change and every 30 s. */
export default fp(
  async (app) => {
    const mirror = new SenderMirror({
      loadAll: () => app.store.senders.list(),
      channel: channels(app.config.QUEUE_PREFIX).senders,
      onError: (err) => app.log.warn({ err: (err as Error).message }, 'senders not reloaded; keeping the last copy'),
    });
    await mirror.start(createRedis(app.config, {}, app.log));
    app.decorate('senderMirror', mirror);
    const breakers = new SenderBreakers(app.redis, app.config.QUEUE_PREFIX, {
      failures: app.config.BREAKER_FAILURES,
      windowMs: app.config.BREAKER_WINDOW_MS,
      cooldownMs: app.config.BREAKER_COOLDOWN_MS,
    });
    app.decorate('breakers', breakers);
    app.decorate('breakerOf', (id: string) => breakers.view(id).catch(() => null));
    app.decorate('lastWebhook', new LastWebhook(app.redis, `${app.config.QUEUE_PREFIX}:sender-last-webhook`));
    app.decorate('proofs', new AcceptanceProofs(app.redis, app.config.QUEUE_PREFIX));
    app.addHook('onClose', () => mirror.stop());
  },
  { name: 'senders', dependencies: ['config', 'store', 'queues'] },
);
