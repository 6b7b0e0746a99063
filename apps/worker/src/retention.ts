import type { Config, RedisConnection } from '@herald/shared';
import type { Store } from '@herald/store';
import { Queue, Worker } from 'bullmq';
import type { Logger } from 'pino';

/** The queue of housekeeping jobs (one kind for now: retention). */
export const maintenanceQueueName = 'maintenance';
export const retentionSchedulerId = 'retention';

export interface Retention {
  queue: Queue;
  worker: Worker;
  close(): Promise<void>;
}

/**
 * Retention as a BullMQ job scheduler: every RETENTION_INTERVAL_MS one `retention` job removes the
 * messages older than RETENTION_DAYS. The scheduler lives in Redis, so however many workers run,
 * one job runs per interval (upsert is idempotent: every worker can declare it). FerretDB has no
 * TTL indexes, hence a job.
 */
export async function startRetention(config: Config, connection: RedisConnection, store: Store, log: Logger): Promise<Retention> {
  const queue = new Queue(maintenanceQueueName, { connection, prefix: config.QUEUE_PREFIX });
  await queue.upsertJobScheduler(
    retentionSchedulerId,
    { every: config.RETENTION_INTERVAL_MS },
    { name: retentionSchedulerId, opts: { removeOnComplete: 10, removeOnFail: 10 } },
  );
  const worker = new Worker(
    maintenanceQueueName,
    async () => {
      const removed = await store.messages.purgeOlderThan(new Date(Date.now() - config.RETENTION_DAYS * 86_400_000));
      if (removed > 0) log.info({ removed, days: config.RETENTION_DAYS }, 'retention removed old messages');
      return { removed };
    },
    { connection, prefix: config.QUEUE_PREFIX, concurrency: 1 },
  );
  worker.on('error', (err) => log.error({ err: err.message, queue: maintenanceQueueName }, 'worker error'));
  await worker.waitUntilReady();
  return {
    queue,
    worker,
    async close() {
      await worker.close();
      await queue.close();
    },
  };
}
