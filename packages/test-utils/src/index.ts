import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { type Config, createQueues, createRedis, parseConfig, type Queues } from '@herald/shared';
import { connectStore, dropDatabase, type Store } from '@herald/store';
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyServerOptions } from 'fastify';
import { Cluster } from 'ioredis';
import { type Logger, pino } from 'pino';

export const testSecrets = {
  JWT_SECRET: 'test-jwt-secret-that-is-long-enough-0123456789',
  META_ACCESS_TOKEN: 'test-meta-access-token',
  META_APP_SECRET: 'test-meta-app-secret',
  META_VERIFY_TOKEN: 'test-verify-token',
  META_PHONE_NUMBER_ID: '106540352242922',
  TWILIO_ACCOUNT_SID: 'AC0123456789abcdef0123456789abcdef',
  TWILIO_AUTH_TOKEN: 'test-twilio-auth-token',
  TWILIO_FROM: '+14155238886',
  MYOPERATOR_API_KEY: 'test-myoperator-api-key',
  MYOPERATOR_COMPANY_ID: 'test-company',
  MYOPERATOR_PHONE_NUMBER_ID: '900000000000001',
  MYOPERATOR_WEBHOOK_SECRET: 'test-myoperator-webhook-secret',
  CALLBACK_SECRET: 'test-callback-secret',
} as const;

/** Where the tests' MongoDB-wire server is; each test file gets its own database in it. */
const mongoBase = (process.env.TEST_MONGO_URL ?? 'mongodb://127.0.0.1:27017').replace(/\/+$/, '');

/**
 * A configuration of its own for one test: a fresh database and queue prefix, so no file sees
 * another's messages or jobs (files run one at a time, see vitest.config.ts, but a file's leftovers
 * must not leak into the next).
 */
export function testConfig(env: Record<string, string> = {}): Config {
  const id = randomUUID().slice(0, 8);
  return parseConfig({
    LOG_LEVEL: 'silent',
    // Small client pools: a file may run an API, several workers and its own client, and their
    // sum must stay below the FerretDB pool (packages/store/src/profiles/ferretdb.ts).
    MONGO_URL: `${mongoBase}/herald_test_${id}?maxPoolSize=6`,
    REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    QUEUE_PREFIX: `{herald-test-${id}}`,
    RETRY_BASE_DELAY_MS: '200',
    IMMEDIATE_WAIT_MS: '3000',
    WORKER_LOCK_MS: '4000',
    STATUS_ORPHAN_AFTER_MS: '2000',
    PROVIDER_MPS: '1000',
    WORKER_CONCURRENCY: '20',
    // Issue 14's waits, short enough for a test: a lost answer waits 2 s for its webhook, an open
    // breaker 1 s before its probe.
    UNKNOWN_OUTCOME_WAIT_MS: '2000',
    BREAKER_COOLDOWN_MS: '1000',
    // Tests send free-form text to numbers that never wrote: the 24-hour window is enforced only
    // where a test turns it on (apps/api/test/service-window.test.ts).
    SERVICE_WINDOW_PROVIDERS: 'none',
    ...testSecrets,
    ...env,
  });
}

export type Role = 'admin' | 'service' | 'viewer';

/** What a stack needs of a worker process. */
export interface WorkerHandle {
  close(force?: boolean): Promise<void>;
}

/** What a stack needs of the simulator. */
export interface SimulatorHandle {
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

/**
 * Herald's parts, passed in by the tests that use a stack (as bull-board's contract runners take
 * the adapter under test): test-utils never imports the apps it starts.
 */
export interface HeraldParts<W extends WorkerHandle> {
  /** The API as a Fastify plugin, and the server options server.ts gives it. */
  api: FastifyPluginAsync<{ config: Config }>;
  fastifyOptions: FastifyServerOptions;
  mintToken(secret: string, claims: { sub: string; role: Role; tenant?: string | undefined }, ttlMs: number): string;
  startWorker(opts: { config: Config; log: Logger }): Promise<W>;
  // biome-ignore lint/suspicious/noExplicitAny: the simulator's options are its own; the stack passes what it knows.
  startSimulator(opts: any): Promise<SimulatorHandle>;
}

export interface Stack<W extends WorkerHandle = WorkerHandle> {
  config: Config;
  api: FastifyInstance;
  apiUrl: string;
  sim: SimulatorHandle;
  worker: W | undefined;
  /** The stack's store (same database as its API and workers), for tests that look at history. */
  store: Store;
  /** The stack's queues, for tests that look at or add jobs directly. */
  queues: Queues;
  /** A token for the stack's secret. */
  token(role: Role, tenant?: string, ttlMs?: number): string;
  /** Starts (again) an in-process worker. */
  startWorker(): Promise<W>;
  /**
   * Resolves once every accepted message is written to history (the accept queue is empty): the
   * API answers before the worker writes the record.
   */
  settled(timeoutMs?: number): Promise<void>;
  /** Sets the simulator's faults (PUT /_sim/faults). */
  faults(faults: object): Promise<void>;
  /** Stops everything and drops the test's database and queues. */
  close(): Promise<void>;
}

export interface StackOptions {
  env?: Record<string, string>;
  /** Which provider Herald sends through (the simulator speaks all three). @defaultValue meta */
  provider?: 'meta' | 'twilio' | 'myoperator';
  /** Start an in-process worker. @defaultValue true */
  worker?: boolean;
  /** Status webhook delays of the simulator, in ms. */
  webhookDelaysMs?: { sent: number; delivered: number; read: number };
}

/**
 * `startStack` for the given parts: a whole Herald on loopback — the API listening on a free port
 * (providers must reach its webhooks), the simulator as the chosen provider (`provider`, Meta by
 * default), and a worker pointed at the simulator — all real code, real Redis, real MongoDB-wire
 * server, real HTTP.
 */
export function defineStack<W extends WorkerHandle>(parts: HeraldParts<W>) {
  return (opts: StackOptions = {}) => startStack(parts, opts);
}

async function startStack<W extends WorkerHandle>(parts: HeraldParts<W>, opts: StackOptions): Promise<Stack<W>> {
  const { fastifyOptions, mintToken, startSimulator, startWorker } = parts;
  let config = testConfig({ WHATSAPP_PROVIDER: opts.provider ?? 'meta', ...opts.env });
  const api = Fastify({ ...fastifyOptions, logger: false });
  await api.register(parts.api, { config });
  const apiUrl = await api.listen({ host: '127.0.0.1', port: 0 });
  // The port is known only now. The API reads PUBLIC_BASE_URL per request (Twilio's signature is
  // over it), so setting it on the same object before the first request is enough.
  config.PUBLIC_BASE_URL = apiUrl;
  const sim = await startSimulator({
    meta: { accessToken: config.META_ACCESS_TOKEN as string, appSecret: config.META_APP_SECRET as string },
    twilio: { accountSid: config.TWILIO_ACCOUNT_SID as string, authToken: config.TWILIO_AUTH_TOKEN as string },
    myoperator: {
      apiKey: config.MYOPERATOR_API_KEY as string,
      companyId: config.MYOPERATOR_COMPANY_ID as string,
      webhookSecret: config.MYOPERATOR_WEBHOOK_SECRET as string,
      webhookHeader: config.MYOPERATOR_WEBHOOK_HEADER,
      sendPath: config.MYOPERATOR_SEND_PATH,
    },
    webhookBaseUrl: apiUrl,
    ...(opts.webhookDelaysMs ? { webhookDelaysMs: opts.webhookDelaysMs } : {}),
  });
  config = {
    ...config,
    META_API_BASE_URL: sim.url,
    TWILIO_API_BASE_URL: sim.url,
    MYOPERATOR_API_BASE_URL: sim.url,
    SIMULATOR_WEBHOOK_URL: apiUrl,
  };
  const redis = createRedis(config);
  const store = await connectStore({ url: config.MONGO_URL, locks: { redis, prefix: config.QUEUE_PREFIX } });
  const queues = createQueues(redis, config.QUEUE_PREFIX);
  const workers: W[] = [];

  const stack: Stack<W> = {
    config,
    api,
    apiUrl,
    sim,
    worker: undefined,
    store,
    queues,
    token: (role, tenant, ttlMs = 3_600_000) => mintToken(config.JWT_SECRET as string, { sub: `test-${role}`, role, tenant }, ttlMs),
    async startWorker() {
      const w = await startWorker({ config, log: pino({ level: 'silent' }) });
      workers.push(w);
      stack.worker = w;
      return w;
    },
    async settled(timeoutMs = 15_000) {
      await waitFor(
        async () => {
          const c = await queues.accept.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
          return (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0) === 0;
        },
        { timeoutMs, what: 'accepted messages to be written to history' },
      );
      await store.statistics.idle();
    },
    async faults(faults) {
      const res = await fetch(`${sim.url}/_sim/faults`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(faults),
      });
      if (!res.ok) throw new Error(`simulator refused faults: ${res.status} ${await res.text()}`);
    },
    async close() {
      // Teardown is not under test: a step that does not finish in time is reported and skipped
      // (a worker is then closed without waiting for its in-flight job), so one slow close never
      // fails a file whose tests passed.
      for (const w of workers) {
        if (!(await within(w.close(), 'worker close'))) await within(w.close(true), 'worker force close');
      }
      await within(api.close(), 'API close');
      await within(sim.close(), 'simulator close');
      await within(store.close(), 'store close');
      await within(Promise.all(Object.values(queues).map((q) => q.close())), 'queues close');
      await within(redis.quit(), 'Redis quit');
      await within(dropHeraldData(config), 'dropping the test data');
    },
  };
  if (opts.worker !== false) await stack.startWorker();
  return stack;
}

/**
 * Removes everything a test or benchmark left under its configuration: the queues and every key
 * under its prefix (idempotency keys, locks), and its database.
 */
export async function dropHeraldData(config: Config): Promise<void> {
  const redis = createRedis(config);
  const queues = createQueues(redis, config.QUEUE_PREFIX);
  await Promise.all(Object.values(queues).map((q) => q.obliterate({ force: true }))).catch(() => undefined);
  await Promise.all(Object.values(queues).map((q) => q.close()));
  // On a cluster every key of the prefix is in one slot, on one master: ask each.
  if (redis instanceof Cluster && redis.status !== 'ready') await new Promise((r) => redis.once('ready', r));
  const targets = redis instanceof Cluster ? redis.nodes('master') : [redis];
  for (const node of targets) {
    const keys = await node.keys(`${config.QUEUE_PREFIX}*`);
    if (keys.length > 0) await node.del(...keys);
  }
  await redis.quit();
  await dropDatabase(config.MONGO_URL).catch(() => undefined);
}

/** Waits for `step` up to `ms`; says on stderr what did not finish instead of hanging the file. */
async function within(step: Promise<unknown>, what: string, ms = 7_000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const done = await Promise.race([
    step.then(
      () => true,
      () => true,
    ),
    new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]);
  clearTimeout(timer);
  if (!done) process.stderr.write(`[test-utils] ${what} did not finish within ${ms} ms; going on\n`);
  return done;
}

/** Polls `probe` until it returns a truthy value; fails with the last value after `timeoutMs`. */
export async function waitFor<T>(
  probe: () => Promise<T>,
  { timeoutMs = 15_000, intervalMs = 50, what = 'condition' } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await probe();
    if (last) return last as NonNullable<T>;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last value: ${JSON.stringify(last)}`);
}

/** A unique, valid Indian mobile number per call, so tests can tell their messages apart at the simulator. */
let phoneCounter = Math.floor(Math.random() * 1_000_000);
export function uniquePhone(): string {
  phoneCounter = (phoneCounter + 1) % 10_000_000;
  return `+9198${String(phoneCounter).padStart(8, '0')}`;
}

/** A Config as environment variables, for processes spawned by tests. */
export function configEnv(config: Config): Record<string, string> {
  const env: Record<string, string> = {};
  // An empty list is written `none` (SERVICE_WINDOW_PROVIDERS): an empty variable means "unset".
  for (const [key, value] of Object.entries(config)) {
    if (value !== undefined) env[key] = Array.isArray(value) && value.length === 0 ? 'none' : String(value);
  }
  return env;
}

export interface SpawnedProcess {
  child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
}

const repoRoot = new URL('../../../', import.meta.url).pathname;

/**
 * Runs one of Herald's entry points as a real process (e.g. `apps/worker/src/main.ts`) with the
 * test's configuration, from a temporary directory so no `.env` is read.
 */
export function spawnHerald(entry: string, config: Config, env: Record<string, string> = {}, args: string[] = []): SpawnedProcess {
  const child = spawn(process.execPath, [`${repoRoot}${entry}`, ...args], {
    cwd: tmpdir(),
    env: { PATH: process.env.PATH ?? '', ...configEnv(config), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (b: Buffer) => {
    out += b.toString();
  });
  child.stderr?.on('data', (b: Buffer) => {
    out += b.toString();
  });
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { child, output: () => out, exited };
}
export * from './ops.ts';
export * from './prism.ts';
