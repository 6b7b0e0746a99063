import {
  AcceptanceProofs,
  type AcceptJob,
  type CallbackJob,
  type Config,
  callbackEmitter,
  channels,
  createProvider,
  createQueues,
  createRedis,
  type InboundJob,
  OptOutCache,
  queueNames,
  SecretBox,
  SenderBreakers,
  SenderMirror,
  type SendJob,
  ServiceWindows,
  type StatusJob,
  TemplateStore,
  type WhatsAppProvider,
} from '@herald/shared';
import { connectStore, isStoreUnavailable } from '@herald/store';
import { MetricsTime, Worker } from 'bullmq';
import type { Logger } from 'pino';
import { SenderPace } from './pacing/sender-pace.ts';
import { createAcceptProcessor } from './processors/accept.ts';
import { createCallbackProcessor } from './processors/callback.ts';
import { createInboundProcessor } from './processors/inbound.ts';
import { createSendProcessor } from './processors/send.ts';
import { createStatusProcessor } from './processors/status.ts';
import { type Retention, startRetention } from './retention.ts';
import { DEFAULT_SENDER_ID, type SenderResolver } from './senders.ts';
import { startTemplateSync, type TemplateSync } from './template-sync.ts';

export interface WorkerOptions {
  config: Config;
  log: Logger;
  /** Overrides the adapter WHATSAPP_PROVIDER names (tests use the real one against the simulator). */
  provider?: WhatsAppProvider;
  /**
   * Sender ids to senders (adapter and mps); the sender registry plugs in here.
   * @defaultValue the environment's sender `env` only, at PROVIDER_MPS
   */
  senders?: SenderResolver;
}

export interface HeraldWorker {
  accept: Worker<AcceptJob>;
  send: Worker<SendJob>;
  status: Worker<StatusJob>;
  callback: Worker<CallbackJob>;
  inbound: Worker<InboundJob>;
  /** Readiness: each dependency `ok` or `down` (within 2 s), and whether sending is paused. */
  checks(): Promise<{ redis: 'ok' | 'down'; mongo: 'ok' | 'down'; workers: 'ok' | 'down'; sending: 'active' | 'paused' | 'unknown' }>;
  /** The scheduled retention job (RETENTION_DAYS). */
  retention: Retention;
  /** Reading Meta's templates (META_WABA_ID): scheduled, at start, and on the admin route's request. */
  templateSync: TemplateSync;
  /**
   * Stops taking jobs, lets in-flight ones finish (unless `force`: then they are left to be taken
   * over as stalled), closes every connection.
   */
  close(force?: boolean): Promise<void>;
}

/** Starts the send and status workers of one process. */
export async function startWorker(opts: WorkerOptions): Promise<HeraldWorker> {
  const { config, log } = opts;
  const provider = opts.provider ?? createProvider(config);
  const redis = createRedis(config, {}, log);
  const store = await connectWhenUp(
    () =>
      connectStore({
        url: config.MONGO_URL,
        locks: { redis, prefix: config.QUEUE_PREFIX },
        onError: (err, what) => log.error({ err }, what),
      }),
    log,
  );
  const queues = createQueues(redis, config.QUEUE_PREFIX);
  const templates = new TemplateStore(store.templates);
  await templates.start(createRedis(config, {}, log), channels(config.QUEUE_PREFIX).templates);
  const attemptsChannel = channels(config.QUEUE_PREFIX).attempts;
  const optOut = new OptOutCache({
    load: (phone) => store.settings.preferencesFor(phone),
    channel: channels(config.QUEUE_PREFIX).preferences,
    publisher: redis,
    ttlMs: config.OPT_OUT_CACHE_TTL_MS,
    maxEntries: config.OPT_OUT_CACHE_SIZE,
  });
  await optOut.start(createRedis(config, {}, log));

  // Stored senders (issue 13) in memory, each adapter built once per version of its sender.
  const senders = new SenderMirror({
    loadAll: () => store.senders.list(),
    channel: channels(config.QUEUE_PREFIX).senders,
    onError: (err) => log.warn({ err: (err as Error).message }, 'senders not reloaded; keeping the last copy'),
  });
  await senders.start(createRedis(config, {}, log));
  const senderBox = SecretBox.fromKeys(config.SENDER_KEYS);
  // The deployment's sender at PROVIDER_MPS, and every stored one with its own adapter and pace.
  // A disabled sender sends nothing: its waiting messages fail `sender_unknown`.
  const storedSenders: SenderResolver = {
    async resolve(id) {
      if (id === DEFAULT_SENDER_ID) return { id, mps: config.PROVIDER_MPS, provider, fallback: config.ENV_SENDER_FALLBACK };
      // A sender created a moment ago may not have reached this process yet: read once more.
      if (!senders.get(id)) await senders.refresh();
      if (senders.get(id)?.disabled !== false) return undefined;
      const built = senders.provider(id, config, senderBox);
      return built ? { id, mps: built.sender.mps, provider: built.provider, fallback: senders.get(id)?.fallback ?? undefined } : undefined;
    },
  };

  // The 24-hour windows: written by inbound messages, read before each send.
  const windows = new ServiceWindows(redis, config.QUEUE_PREFIX);

  // Issue 14: each sender's circuit breaker, and the webhooks' proofs for sends whose answer was lost.
  const breakers = new SenderBreakers(redis, config.QUEUE_PREFIX, {
    failures: config.BREAKER_FAILURES,
    windowMs: config.BREAKER_WINDOW_MS,
    cooldownMs: config.BREAKER_COOLDOWN_MS,
    probeHoldMs: config.PROVIDER_TIMEOUT_MS + 5000,
  });
  const proofs = new AcceptanceProofs(redis, config.QUEUE_PREFIX);

  const lockDuration = config.WORKER_LOCK_MS;
  const emitCallback = callbackEmitter({
    queue: queues.callback,
    redis,
    prefix: config.QUEUE_PREFIX,
    attempts: config.CALLBACK_ATTEMPTS,
    backoffMs: config.CALLBACK_RETRY_BASE_MS,
    warn: (obj, msg) => log.warn(obj, msg),
  });
  // Accepted messages to history, in batches, then on to `send`: the only way a message reaches
  // history (the API does not write it). No limiter: it calls no provider.
  const accept = new Worker<AcceptJob>(queueNames.accept, createAcceptProcessor({ config, store, sendQueue: queues.send, log }), {
    connection: redis,
    prefix: config.QUEUE_PREFIX,
    concurrency: config.ACCEPT_CONCURRENCY,
    lockDuration,
    stalledInterval: Math.max(1000, Math.round(lockDuration / 2)),
  });
  const send = new Worker<SendJob>(
    queueNames.send,
    createSendProcessor({
      config,
      store,
      templates,
      optOut,
      provider,
      senders: opts.senders ?? storedSenders,
      pace: new SenderPace(redis, config.QUEUE_PREFIX),
      breakers,
      proofs,
      announce: (id, status) => redis.publish(attemptsChannel, `${id}|${status}`),
      emitCallback,
      windows,
      log,
    }),
    {
      connection: redis,
      prefix: config.QUEUE_PREFIX,
      concurrency: config.WORKER_CONCURRENCY,
      // No queue-wide limiter: each sender has its own pace (pacing/sender-pace.ts), and a job
      // waiting for its sender's slot waits in the delayed set, not in a worker.
      lockDuration,
      stalledInterval: Math.max(1000, Math.round(lockDuration / 2)),
      maxStalledCount: 2,
      // BullMQ's per-minute completed/failed counts, exported by the API's /metrics.
      metrics: { maxDataPoints: MetricsTime.ONE_WEEK },
    },
  );
  const status = new Worker<StatusJob>(
    queueNames.status,
    createStatusProcessor({
      store,
      log,
      inbound: queues.inbound,
      emitCallback,
      coalesceMs: config.STATUS_COALESCE_MS,
      proofs,
      send: queues.send,
    }),
    {
      connection: redis,
      prefix: config.QUEUE_PREFIX,
      concurrency: config.STATUS_CONCURRENCY,
      lockDuration,
      stalledInterval: Math.max(1000, Math.round(lockDuration / 2)),
    },
  );
  // Opt-outs have their own queue and workers: however many status events wait or retry, none
  // holds a slot an inbound STOP needs (docs/providers.md, Opt-out first).
  const inbound = new Worker<InboundJob>(
    queueNames.inbound,
    createInboundProcessor({ store, optOut, config, emitCallback, windows, log }),
    {
      connection: redis,
      prefix: config.QUEUE_PREFIX,
      concurrency: config.WORKER_CONCURRENCY,
      lockDuration,
      stalledInterval: Math.max(1000, Math.round(lockDuration / 2)),
    },
  );
  // Callbacks have their own queue and workers: a slow or dead receiver never holds up sending.
  const callback = new Worker<CallbackJob>(
    queueNames.callback,
    createCallbackProcessor({ secret: config.CALLBACK_SECRET ?? '', timeoutMs: config.CALLBACK_TIMEOUT_MS, log }),
    { connection: redis, prefix: config.QUEUE_PREFIX, concurrency: config.WORKER_CONCURRENCY, lockDuration },
  );
  for (const w of [accept, send, status, callback, inbound] as Worker[]) {
    w.on('error', (err) => log.error({ err: err.message, queue: w.name }, 'worker error'));
    w.on('failed', (job, err) => {
      if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) log.warn({ queue: w.name, job: job.id, err: err.message }, 'job failed');
    });
  }
  await Promise.all([
    accept.waitUntilReady(),
    send.waitUntilReady(),
    status.waitUntilReady(),
    callback.waitUntilReady(),
    inbound.waitUntilReady(),
  ]);
  const retention = await startRetention(config, redis, store, log);
  const templateSync = await startTemplateSync(config, redis, store, log);

  return {
    accept,
    send,
    status,
    callback,
    inbound,
    async checks() {
      let paused: boolean | undefined;
      const [redisOk, mongoOk] = await Promise.all([
        within(async () => {
          await redis.ping();
          paused = await queues.send.isPaused();
        }),
        within(() => store.ping()),
      ]);
      return {
        redis: redisOk ? 'ok' : 'down',
        mongo: mongoOk ? 'ok' : 'down',
        workers:
          accept.isRunning() && send.isRunning() && status.isRunning() && callback.isRunning() && inbound.isRunning() ? 'ok' : 'down',
        sending: paused === undefined ? 'unknown' : paused ? 'paused' : 'active',
      };
    },
    retention,
    templateSync,
    async close(force = false) {
      await Promise.all([
        accept.close(force),
        send.close(force),
        status.close(force),
        callback.close(force),
        inbound.close(force),
        retention.close(),
        templateSync.close(),
      ]);
      await templates.stop();
      await optOut.stop();
      await senders.stop();
      await store.statistics.idle(); // before Redis goes: counter writes may hold locks there
      await Promise.all(Object.values(queues).map((q) => q.close()));
      await store.close();
      await redis.quit().catch(() => undefined);
    },
  };
}

/**
 * A worker started while MongoDB is away waits for it (1 s doubling to 10 s between tries) rather
 * than exiting: accepted messages wait in Redis meanwhile, and are written once it answers.
 */
async function connectWhenUp<T>(connect: () => Promise<T>, log: Logger): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await connect();
    } catch (err) {
      if (!isStoreUnavailable(err) || n >= 360) throw err;
      if (n % 5 === 0) log.warn({ err: (err as Error).message }, 'database unavailable at start; waiting for it');
      await new Promise((r) => setTimeout(r, Math.min(1000 * 2 ** n, 10_000)));
    }
  }
}

/** True when `probe` resolves within 1.5 s (a readiness answer must come within 2 s). */
async function within(probe: () => Promise<unknown>, ms = 1500): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      probe().then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), ms);
      }),
    ]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
