import { channels, createRedis, PreferencesMirror } from '@herald/shared';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    /** Recipients' preferences in memory: the accept path's opt-out check never waits on the database. */
    preferences: PreferencesMirror;
  }
}

/**
 * The preferences mirror (see PreferencesMirror): loaded at start, reloaded per recipient when any
 * process announces a change, and in full every PREFERENCES_REFRESH_MS.
 */
export default fp(
  async (app) => {
    const mirror = new PreferencesMirror({
      loadAll: () => app.store.settings.all(),
      loadOne: (phone) => app.store.settings.preferencesFor(phone),
      channel: channels(app.config.QUEUE_PREFIX).preferences,
      refreshMs: app.config.PREFERENCES_REFRESH_MS,
      onError: (err) => app.log.warn({ err: (err as Error).message }, 'recipient preferences not reloaded; keeping the last copy'),
    });
    await mirror.start(createRedis(app.config, {}, app.log));
    app.decorate('preferences', mirror);
    app.addHook('onClose', () => mirror.stop());
  },
  { name: 'preferences', dependencies: ['config', 'store'] },
);
