import { channels, createRedis, SenderMirror } from '@herald/shared';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    /** Every stored sender in memory: choosing a message's sender never waits on the database. */
    senderMirror: SenderMirror;
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
    app.addHook('onClose', () => mirror.stop());
  },
  { name: 'senders', dependencies: ['config', 'store'] },
);
