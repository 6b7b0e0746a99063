import {
  type Config,
  channels,
  fetchMetaTemplates,
  jobNames,
  queueNames,
  type RedisConnection,
  reloadProviderTemplates,
  type TemplateSyncJob,
  type TemplateSyncResult,
} from '@herald/shared';
import type { Store } from '@herald/store';
import { Queue, Worker } from 'bullmq';
import type { Logger } from 'pino';

export const templateSyncSchedulerId = 'template-sync';

export interface TemplateSync {
  queue: Queue<TemplateSyncJob, TemplateSyncResult>;
  /** Undefined when the sync is off (META_WABA_ID or META_ACCESS_TOKEN unset). */
  worker: Worker<TemplateSyncJob, TemplateSyncResult> | undefined;
  close(): Promise<void>;
}

/** Whether this deployment reads its templates from Meta. */
export const templateSyncEnabled = (config: Config) => Boolean(config.META_WABA_ID && config.META_ACCESS_TOKEN);

/**
 * Reads the account's templates from Meta into the store and tells every API to reload its
 * mirror. One `template-sync` queue, worked one job at a time per process: a BullMQ job scheduler
 * every TEMPLATE_SYNC_INTERVAL_MS (the scheduler lives in Redis, so however many workers run, one
 * job runs per interval), one job at each worker's start (deduplicated across workers starting
 * together), and the admin route's jobs. Webhooks apply changes at once; the schedule catches
 * what a missed webhook would leave stale.
 */
export async function startTemplateSync(config: Config, connection: RedisConnection, store: Store, log: Logger): Promise<TemplateSync> {
  const queue = new Queue<TemplateSyncJob, TemplateSyncResult>(queueNames.templateSync, { connection, prefix: config.QUEUE_PREFIX });
  queue.on('error', () => undefined);
  if (!templateSyncEnabled(config)) {
    // A deployment that turned the sync off must not keep a scheduler an earlier release made.
    await queue.removeJobScheduler(templateSyncSchedulerId);
    return { queue, worker: undefined, close: () => queue.close() };
  }
  const channel = channels(config.QUEUE_PREFIX).providerTemplates;
  const worker = new Worker<TemplateSyncJob, TemplateSyncResult>(
    queueNames.templateSync,
    async (job) => {
      const at = new Date();
      const { templates, pages } = await fetchMetaTemplates({
        baseUrl: config.META_API_BASE_URL,
        apiVersion: config.META_API_VERSION,
        wabaId: config.META_WABA_ID as string,
        accessToken: config.META_ACCESS_TOKEN as string,
        timeoutMs: config.PROVIDER_TIMEOUT_MS,
      });
      const { changed, removed } = await store.providerTemplates.applySync('meta', templates, at);
      await connection.publish(channel, reloadProviderTemplates);
      const result = { templates: templates.length, pages, changed, removed, synced_at: at.toISOString() };
      log.info({ ...result, reason: job.data.reason }, 'templates synced from Meta');
      return result;
    },
    { connection, prefix: config.QUEUE_PREFIX, concurrency: 1 },
  );
  worker.on('error', (err) => log.error({ err: err.message, queue: queueNames.templateSync }, 'worker error'));
  worker.on('failed', (job, err) => log.warn({ reason: job?.data.reason, err: err.message }, 'template sync failed'));
  await worker.waitUntilReady();

  const jobOpts = { removeOnComplete: { count: 20 }, removeOnFail: { count: 20 } };
  if (config.TEMPLATE_SYNC_INTERVAL_MS > 0) {
    await queue.upsertJobScheduler(
      templateSyncSchedulerId,
      { every: config.TEMPLATE_SYNC_INTERVAL_MS },
      { name: jobNames.templateSync, data: { v: 1, reason: 'schedule' }, opts: jobOpts },
    );
  } else {
    await queue.removeJobScheduler(templateSyncSchedulerId);
  }
  await queue.add(
    jobNames.templateSync,
    { v: 1, reason: 'start' },
    { ...jobOpts, deduplication: { id: 'template-sync-start', ttl: 60_000 } },
  );
  return {
    queue,
    worker,
    async close() {
      await worker.close();
      await queue.close();
    },
  };
}
