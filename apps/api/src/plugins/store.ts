import { connectStore, type Store } from '@herald/store';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    /** Herald's storage (packages/store): routes and services never see a collection. */
    store: Store;
  }
}

/** The store: connected and prepared at start, closed (after its pending writes) on close. */
export default fp(
  async (app) => {
    const store = await connectStore({
      url: app.config.MONGO_URL,
      locks: { redis: app.redis, prefix: app.config.QUEUE_PREFIX },
      onError: (err, what) => app.log.error({ err }, what),
    });
    app.addHook('onClose', () => store.close());
    app.decorate('store', store);
  },
  { name: 'store', dependencies: ['config', 'queues'] },
);
