import { type BreakerView, channels, createRedis, SenderBreakers, SenderMirror } from '@herald/shared';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    /** Every stored sender in memory: choosing a message's sender never waits on the database. */
    senderMirror: SenderMirror;
    /** Each sender's circuit breaker as the workers keep it in Redis (read-only here). */
    breakers: SenderBreakers;
    /** A sender's breaker, or null when Redis cannot say. */
    breakerOf(senderId: string): Promise<BreakerView | null>;
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
    app.addHook('onClose', () => mirror.stop());
  },
  { name: 'senders', dependencies: ['config', 'store', 'queues'] },
);
