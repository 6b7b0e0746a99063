import { announceProviderTemplate, channels, jobNames, parseMetaTemplateEvents } from '@herald/shared';
import type { FastifyInstance } from 'fastify';

/**
 * Applies the template events of a verified Meta webhook at once (no queue: an accept right after
 * must see them): each change is written to the store, applied to this API's mirror and announced
 * to every other process. An event whose resulting status Herald cannot tell (UNARCHIVED, …) asks
 * the worker for a sync. Returns the number of template events taken. A database that does not
 * answer makes this throw (a 503): Meta delivers the webhook again later.
 */
export async function applyMetaTemplateEvents(app: FastifyInstance, rawBody: Buffer): Promise<number> {
  let json: unknown;
  try {
    json = JSON.parse(rawBody.toString('utf8'));
  } catch {
    return 0;
  }
  const { changes, resync } = parseMetaTemplateEvents(json);
  const channel = channels(app.config.QUEUE_PREFIX).providerTemplates;
  for (const change of changes) {
    const doc = await app.store.providerTemplates.apply('meta', change);
    if (!doc) continue;
    app.providerTemplates.apply(doc);
    await app.redis.publish(channel, announceProviderTemplate(doc));
    app.log.info({ template: doc.name, language: doc.language, status: doc.status, quality: doc.quality }, 'Meta template changed');
  }
  if (resync && app.config.META_WABA_ID) {
    await app.queues.templateSync.add(
      jobNames.templateSync,
      { v: 1, reason: 'webhook' },
      { removeOnComplete: { count: 20 }, removeOnFail: { count: 20 }, deduplication: { id: 'template-sync-webhook', ttl: 10_000 } },
    );
  }
  return changes.length + (resync ? 1 : 0);
}
