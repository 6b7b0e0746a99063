import { channels, createRedis, ProviderTemplateMirror } from '@herald/shared';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    /** Provider templates' statuses in memory: the accept path's approval check never waits on the database. */
    providerTemplates: ProviderTemplateMirror;
  }
}

/**
 * The provider-template mirror (see ProviderTemplateMirror): loaded at start, a changed record
 * applied as soon as any process announces it, everything read again after a sync and every 30 s.
 */
export default fp(
  async (app) => {
    const mirror = new ProviderTemplateMirror({
      loadAll: () => app.store.providerTemplates.list(),
      channel: channels(app.config.QUEUE_PREFIX).providerTemplates,
      onError: (err) => app.log.warn({ err: (err as Error).message }, 'provider templates not reloaded; keeping the last copy'),
    });
    await mirror.start(createRedis(app.config, {}, app.log));
    app.decorate('providerTemplates', mirror);
    app.addHook('onClose', () => mirror.stop());
  },
  { name: 'provider-templates', dependencies: ['config', 'store'] },
);
