import {
  type Config,
  channels,
  collections,
  connectMongo,
  createProvider,
  createQueues,
  createRedis,
  prepareDatabase,
  queueNames,
  type SendJob,
  type StatusJob,
  TemplateStore,
  type WhatsAppProvider,
} from '@herald/shared';
import { Worker } from 'bullmq';
import type { Logger } from 'pino';
import { createSendProcessor } from './processors/send.ts';
import { createStatusProcessor } from './processors/status.ts';
import { type Retention, startRetention } from './retention.ts';

export interface WorkerOptions {
  config: Config;
  log: Logger;
  /** Overrides the adapter WHATSAPP_PROVIDER names (tests use the real one against the simulator). */
  provider?: WhatsAppProvider;
}

export interface HeraldWorker {
  send: Worker<SendJob>;
  status: Worker<StatusJob>;
  /** The scheduled retention job (RETENTION_DAYS). */
  retention: Retention;
  /** Stops taking jobs, lets in-flight ones finish, closes every connection. */
  close(): Promise<void>;
}

/** Starts the send and status workers of one process. */
export async function startWorker(opts: WorkerOptions): Promise<HeraldWorker> {
  const { config, log } = opts;
  const provider = opts.provider ?? createProvider(config);
  const mongo = await connectMongo(config.MONGO_URL);
  const db = collections(mongo.db());
  await prepareDatabase(db);

  const redis = createRedis(config, {}, log);
  const queues = createQueues(redis, config.QUEUE_PREFIX);
  const templates = new TemplateStore(db);
  await templates.start(createRedis(config, {}, log), channels(config.QUEUE_PREFIX).templates);
  const attemptsChannel = channels(config.QUEUE_PREFIX).attempts;

  const lockDuration = config.WORKER_LOCK_MS;
  const send = new Worker<SendJob>(
    queueNames.send,
    createSendProcessor({
      config,
      db,
      templates,
      provider,
      queue: queues.send,
      announce: (id, status) => redis.publish(attemptsChannel, `${id}|${status}`),
      log,
    }),
    {
      connection: redis,
      prefix: config.QUEUE_PREFIX,
      concurrency: config.WORKER_CONCURRENCY,
      // Global across every worker of the queue: BullMQ keeps the window in Redis.
      limiter: { max: config.PROVIDER_MPS, duration: 1000 },
      lockDuration,
      stalledInterval: Math.max(1000, Math.round(lockDuration / 2)),
      maxStalledCount: 2,
    },
  );
  const status = new Worker<StatusJob>(
    queueNames.status,
    createStatusProcessor({ db, redis, lockPrefix: config.QUEUE_PREFIX, log, defaultCountry: config.DEFAULT_COUNTRY }),
    {
      connection: redis,
      prefix: config.QUEUE_PREFIX,
      concurrency: config.WORKER_CONCURRENCY,
      lockDuration,
      stalledInterval: Math.max(1000, Math.round(lockDuration / 2)),
    },
  );
  for (const w of [send, status]) {
    w.on('error', (err) => log.error({ err: err.message, queue: w.name }, 'worker error'));
    w.on('failed', (job, err) => {
      if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) log.warn({ queue: w.name, job: job.id, err: err.message }, 'job failed');
    });
  }
  await Promise.all([send.waitUntilReady(), status.waitUntilReady()]);
  const retention = await startRetention(config, redis, db, log);

  return {
    send,
    status,
    retention,
    async close() {
      await Promise.all([send.close(), status.close(), retention.close()]);
      await templates.stop();
      await queues.send.close();
      await queues.status.close();
      await redis.quit().catch(() => undefined);
      await mongo.close();
    },
  };
}
