import { type JobsOptions, Queue } from 'bullmq';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../config/config.ts';
import type { AcceptJob, CallbackJob, InboundJob, SendJob, StatusJob } from '../schemas/jobs.ts';
import type { TemplateSyncJob, TemplateSyncResult } from '../schemas/template-sync.ts';

/**
 * Queue names. Renaming one strands every job already in it: drain the old queue first.
 */
export const queueNames = {
  /** Accepted messages on their way to history, then to `send` (the API's only write). */
  accept: 'accept',
  send: 'send',
  status: 'status',
  callback: 'callback',
  /**
   * Inbound messages (opt-out/opt-in keywords), apart from `status`: a queue of its own with its
   * own workers is never behind a status backlog (docs/providers.md, Opt-out first).
   */
  inbound: 'inbound',
  /** Reading the account's templates from Meta (a job scheduler, the start, the admin route). */
  templateSync: 'template-sync',
} as const;

/** Job names inside the queues (one kind each for now). */
export const jobNames = { accept: 'accept', send: 'send', status: 'status', inbound: 'inbound', templateSync: 'template-sync' } as const;

/** Attempts per message (SPEC 4): the first send and two retries. */
export const sendAttempts = 3;

export type RedisConnection = Redis | Cluster;

/** Where connection errors go; pino loggers fit. */
export interface ErrorLog {
  warn(obj: object, msg: string): void;
}

/**
 * One connection factory for queues, workers, idempotency keys and pub/sub, so Redis Cluster is a
 * configuration change. BullMQ needs `maxRetriesPerRequest: null` on connections that block.
 * Connection errors are logged (at most one line per 30 s per connection) rather than thrown
 * as unhandled `error` events; ioredis reconnects by itself.
 */
export function createRedis(
  config: Pick<Config, 'REDIS_URL' | 'REDIS_CLUSTER_NODES'>,
  opts: RedisOptions = {},
  log?: ErrorLog,
): RedisConnection {
  const base: RedisOptions = { maxRetriesPerRequest: null, enableReadyCheck: true, ...opts };
  let connection: RedisConnection;
  if (config.REDIS_CLUSTER_NODES) {
    const nodes = config.REDIS_CLUSTER_NODES.split(',').map((hp) => {
      const [host, port] = hp.trim().split(':');
      return { host: host ?? '127.0.0.1', port: Number(port ?? 6379) };
    });
    connection = new Cluster(nodes, { redisOptions: base });
  } else {
    connection = new Redis(config.REDIS_URL, base);
  }
  let lastLogged = 0;
  connection.on('error', (err: Error) => {
    if (Date.now() - lastLogged < 30_000) return;
    lastLogged = Date.now();
    log?.warn({ err: err.message }, 'redis connection error; reconnecting');
  });
  return connection;
}

/** Pub/sub channels (prefixed like the queues so deployments sharing a Redis stay apart). */
export const channels = (prefix: string) => ({
  /** The worker announces each finished send attempt: `{id, status}`; `immediate` waits on it. */
  attempts: `${prefix}:attempts`,
  /** A template changed: `{type, version}`; every process drops its cached copy. */
  templates: `${prefix}:templates`,
  /** A recipient's preferences changed: the E.164 phone; every process drops its cached copy. */
  preferences: `${prefix}:preferences`,
  /**
   * A provider template's status changed: the new record as JSON (applied at once), or
   * `{"reload":true}` after a sync; every API reloads its mirror.
   */
  providerTemplates: `${prefix}:provider-templates`,
  /** A sender was created or changed: every process reads its senders again. */
  senders: `${prefix}:senders`,
});

/** Redis key of an idempotency record (SPEC 2.1): tenant-scoped, 24 h. */
export const idempotencyKey = (prefix: string, tenant: string, key: string) => `${prefix}:idem:${tenant}:${key}`;
export const idempotencyTtlSeconds = 24 * 60 * 60;

export function sendJobOptions(config: Pick<Config, 'RETRY_BASE_DELAY_MS'>, id: string, delayMs: number): JobsOptions {
  return {
    jobId: id,
    delay: delayMs > 0 ? delayMs : undefined,
    attempts: sendAttempts,
    backoff: { type: 'exponential', delay: config.RETRY_BASE_DELAY_MS },
    // The message's history is in MongoDB; Redis only needs finished jobs long enough for
    // inspection in Bull Board. Failed ones stay longer for resends and process-queue.
    removeOnComplete: { age: 24 * 3600, count: 10_000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  };
}

/**
 * Status jobs: the id is the sha256 of the webhook's raw body, so a retried delivery of the same
 * request collapses while its first copy is still kept (about an hour after completion).
 */
export function statusJobOptions(bodyHash: string, attempts: number, backoffMs: number): JobsOptions {
  return {
    jobId: bodyHash,
    attempts,
    backoff: { type: 'exponential', delay: backoffMs },
    removeOnComplete: { age: 3600 },
    removeOnFail: { age: 7 * 24 * 3600 },
  };
}

/**
 * Attempts and base backoff for status jobs, so events for a provider id not recorded yet are
 * retried for about `orphanAfterMs`. The first retry comes quickly (the usual case is a webhook
 * that beat the worker's history write by a few milliseconds); waits then double.
 */
export function statusRetryPlan(orphanAfterMs: number): { attempts: number; backoffMs: number } {
  const backoffMs = Math.min(250, Math.max(20, Math.round(orphanAfterMs / 8)));
  // Exponential waits b, 2b, …, 2^(n−1)b add up to (2^n − 1)b ≥ orphanAfterMs.
  const retries = Math.ceil(Math.log2(orphanAfterMs / backoffMs + 1));
  return { attempts: retries + 1, backoffMs };
}

/**
 * Accept jobs: the id is the message id (a repeated add is a no-op). Kept a day after they ran, so
 * that a late retry of the same id still collapses; the record is in history by then.
 */
export function acceptJobOptions(id: string): JobsOptions {
  return { jobId: id, removeOnComplete: { age: 24 * 3600, count: 10_000 }, removeOnFail: { age: 7 * 24 * 3600 } };
}

/**
 * Inbound jobs: the same id as the request's status job (the body hash), so a replayed delivery
 * collapses here too. An opt-out must not be lost to a database outage: retried for about 17
 * minutes (500 ms doubling, 12 attempts), then kept a week among the failed jobs for an operator.
 */
export function inboundJobOptions(bodyHash: string): JobsOptions {
  return {
    jobId: bodyHash,
    attempts: 12,
    backoff: { type: 'exponential', delay: 500 },
    removeOnComplete: { age: 3600 },
    removeOnFail: { age: 7 * 24 * 3600 },
  };
}

export interface Queues {
  accept: Queue<AcceptJob>;
  send: Queue<SendJob>;
  status: Queue<StatusJob>;
  callback: Queue<CallbackJob>;
  inbound: Queue<InboundJob>;
  templateSync: Queue<TemplateSyncJob, TemplateSyncResult>;
}

export function createQueues(connection: RedisConnection, prefix: string): Queues {
  const queues: Queues = {
    accept: new Queue<AcceptJob>(queueNames.accept, { connection, prefix }),
    send: new Queue<SendJob>(queueNames.send, { connection, prefix }),
    status: new Queue<StatusJob>(queueNames.status, { connection, prefix }),
    callback: new Queue<CallbackJob>(queueNames.callback, { connection, prefix }),
    inbound: new Queue<InboundJob>(queueNames.inbound, { connection, prefix }),
    templateSync: new Queue<TemplateSyncJob, TemplateSyncResult>(queueNames.templateSync, { connection, prefix }),
  };
  // The connection's errors are already logged (throttled) by createRedis; a Queue without an
  // `error` listener would print every one of them to stderr while Redis is away.
  for (const queue of Object.values(queues)) queue.on('error', () => undefined);
  return queues;
}
