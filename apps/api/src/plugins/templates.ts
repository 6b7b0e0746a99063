import { channels, createRedis, TemplateStore } from '@herald/shared';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    templates: TemplateStore;
  }
}

/** Templates in memory, reloaded when any process announces a change. */
export default fp(
  async (app) => {
    const store = new TemplateStore(app.store.templates);
    await store.start(createRedis(app.config, {}, app.log), channels(app.config.QUEUE_PREFIX).templates);
    app.decorate('templates', store);
    app.addHook('onClose', () => store.stop());
  },
  { name: 'templates', dependencies: ['config', 'store'] },
);
