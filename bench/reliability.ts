// `pnpm reliability`: Herald under faults, with messages in flight. For each scenario it starts a
// fresh API, simulator and two workers as real processes on loopback, against a Redis (AOF on) and
// a FerretDB of its own (so both can be stopped without touching the shared ones), accepts
// --messages messages to distinct phone numbers, injects the fault once a quarter of them reached
// the simulator, waits for every accepted message to end, and counts:
//   accepted   answered 2xx (a 503 during an outage is retried with the same Idempotency-Key)
//   sent       ended sent/delivered/read          failed  ended failed (retries used up)
//   lost       accepted but neither, or no record (must be 0)
//   twice      phones the simulator accepted more than one message for (by any provider)
//   failed over  messages sent through the sender's fallback (sent_by set)
// Options: --messages N (default 10000), --only plain,kill-worker,restart-redis,stop-ferretdb,
// mongo-down-accepting,provider-faults,primary-down-fallback,provider-timeouts,provider-timeouts-no-webhooks,
// --workers N (default 2), --pg (FerretDB on PostgreSQL instead of SQLite).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { mintToken } from '@herald/api';
import { createRedis } from '@herald/shared';
import { connectStore } from '@herald/store';
import { freePort } from '@herald/test-utils';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '10000' },
    only: { type: 'string' },
    workers: { type: 'string', default: '2' },
    'timeout-s': { type: 'string', default: '900' },
    pg: { type: 'boolean', default: false },
  },
});
const total = Number(args.messages);
const workerCount = Number(args.workers);
const timeoutMs = Number(args['timeout-s']) * 1000;
const root = new URL('../', import.meta.url).pathname;
const log = (s: string) => process.stderr.write(`[reliability] ${new Date().toISOString().slice(11, 19)} ${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
async function waitPort(port: number, what: string, open = true) {
  for (let i = 0; i < 300; i++) {
    if ((await portOpen(port)) === open) return;
    await sleep(100);
  }
  throw new Error(`${what} did not ${open ? 'open' : 'close'} port ${port}`);
}

const spawned: ChildProcess[] = [];
// Interrupted: take down everything this script started (its Redis and FerretDB too).
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    for (const c of spawned) if (c.exitCode === null) c.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(130);
  });
}

function run(cmd: string, argv: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(cmd, argv, { cwd: tmpdir(), env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  spawned.push(child);
  let err = '';
  child.stderr?.on('data', (b: Buffer) => {
    err = (err + b.toString()).slice(-4000);
  });
  child.on('exit', (code, signal) => {
    if (code && code !== 0 && signal === null) log(`${cmd} ${argv.at(-1)} exited ${code}: ${err.slice(-600)}`);
  });
  return child;
}
async function stop(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM') {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}

// Infrastructure of the script's own -------------------------------------------------------------

const dataDir = mkdtempSync(`${tmpdir()}/herald-reliability-`);
const redisPort = await freePort();
const mongoPort = await freePort();
const pgDb = `herald_rel_${randomUUID().slice(0, 8)}`;
let redis: ChildProcess | undefined;
let ferret: ChildProcess | undefined;

async function startRedis() {
  // AOF fsync'd every write: a restart loses nothing Herald was told is stored.
  redis = run('redis-server', [
    '--bind',
    '127.0.0.1',
    '--port',
    String(redisPort),
    '--dir',
    dataDir,
    '--appendonly',
    'yes',
    '--appendfsync',
    'always',
    '--save',
    '',
    '--maxmemory-policy',
    'noeviction',
  ]);
  await waitPort(redisPort, 'redis-server');
}
// FerretDB on PostgreSQL when --pg is given (a database of its own, pool 40), else on SQLite in
// the script's temporary directory: PostgreSQL's connection limit is shared with every other
// FerretDB on the machine. Every process's client pool is kept small (maxPoolSize in MONGO_URL)
// so that their sum stays below FerretDB's pool: past it FerretDB 1.24 can hang (packages/store, FerretDB profile).
const usePg = args.pg === true;
async function startFerret() {
  const handler = usePg
    ? ['--handler=postgresql', `--postgresql-url=postgres://postgres@127.0.0.1:5432/${pgDb}?pool_max_conns=40&sslmode=disable`]
    : ['--handler=sqlite', `--sqlite-url=file:${dataDir}/sqlite/`];
  // The FerretDB process as scripts/lib/services.sh starts it: GOGC=400, no TLS to PostgreSQL
  // (docs/ferretdb-tuning.md).
  ferret = run(
    'ferretdb',
    [
      ...handler,
      `--listen-addr=127.0.0.1:${mongoPort}`,
      '--telemetry=disable',
      '--debug-addr=-',
      '--log-level=ERROR',
      `--state-dir=${dataDir}`,
    ],
    { GOGC: process.env.FERRETDB_GOGC ?? '400' },
  );
  await waitPort(mongoPort, 'ferretdb');
}
if (usePg) {
  execFileSync('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-qc', `CREATE DATABASE ${pgDb}`]);
  execFileSync(
    'psql',
    ['-h', '127.0.0.1', '-U', 'postgres', '-q', '-v', 'ON_ERROR_STOP=1', pgDb, '-f', `${root}scripts/lib/ferretdb-gin.sql`],
    {
      env: { ...process.env, PGOPTIONS: '-c client_min_messages=warning' },
    },
  );
} else {
  mkdirSync(`${dataDir}/sqlite`);
}
await startRedis();
await startFerret();

// One scenario -------------------------------------------------------------------------------------

interface Scenario {
  name: string;
  what: string;
  faults?: object;
  /** Herald's environment for this scenario (over the defaults below). */
  env?: Record<string, string>;
  /** Runs once the API is up, before the workers start; what it returns is added to the workers' environment. */
  setup?(ctx: { apiUrl: string; adminToken: string }): Promise<Record<string, string>>;
  /** When the fault comes: once a quarter of the messages reached the simulator (default), or as accepting starts. */
  injectAt?: 'quarter' | 'start';
  /** Runs once a quarter of the messages reached the simulator (or at the start, see injectAt). */
  inject?(ctx: { workers: ChildProcess[]; startWorker(): ChildProcess; setFaults(f: object): Promise<void> }): Promise<string>;
}

interface Row {
  scenario: string;
  accepted: number;
  sent: number;
  failed: number;
  lost: number;
  twice: number;
  failedOver: number;
  note: string;
  seconds: number;
}

const scenarios: Scenario[] = [
  // No fault: with --workers 3 --messages 5000 --only plain, the issue's exactly-once run at scale.
  { name: 'plain', what: 'no fault (baseline)' },
  {
    name: 'kill-worker',
    what: 'kill -9 a worker mid-run, start another',
    async inject({ workers, startWorker }) {
      await stop(workers[0], 'SIGKILL');
      workers[0] = startWorker();
      return 'worker 0 killed with SIGKILL and replaced';
    },
  },
  {
    name: 'restart-redis',
    what: 'restart Redis (AOF on)',
    async inject() {
      await stop(redis, 'SIGTERM');
      await sleep(2000);
      await startRedis();
      return 'Redis stopped (SIGTERM), down 2 s, started again from its AOF';
    },
  },
  {
    name: 'stop-ferretdb',
    what: 'stop FerretDB for 10 s',
    async inject() {
      await stop(ferret, 'SIGKILL');
      await sleep(10_000);
      await startFerret();
      return 'FerretDB killed, down 10 s, started again';
    },
  },
  {
    name: 'mongo-down-accepting',
    what: 'MongoDB (FerretDB) down 30 s while the messages are accepted',
    injectAt: 'start',
    async inject() {
      await stop(ferret, 'SIGKILL');
      await sleep(30_000);
      await startFerret();
      return 'FerretDB killed after the first send, down 30 s while accepting went on, started again';
    },
  },
  {
    name: 'provider-faults',
    what: 'simulator: 20 % transient faults + 429 bursts',
    // 20 % of sends answered with a transient error (Meta 131000 / 131016, retried with backoff)…
    faults: { error_rates: { '131000': 0.15, '131016': 0.05 } },
    // …and, once a quarter is sent, a burst: for 3 s half the sends get a bare 429 + Retry-After 1 s
    // (each pauses the whole queue), then back to the transient faults alone.
    async inject({ setFaults }) {
      await setFaults({ error_rates: { '131000': 0.15, '131016': 0.05 }, rate_429: 0.5, retry_after_s: 1 });
      await sleep(3000);
      await setFaults({ error_rates: { '131000': 0.15, '131016': 0.05 } });
      return '20 % transient errors throughout; a 3 s burst of 50 % 429s (Retry-After 1 s) at 25 %';
    },
  },
  {
    name: 'primary-down-fallback',
    what: 'primary provider (Meta) down 60 s, a Twilio fallback configured',
    setup: twilioFallback,
    async inject({ setFaults }) {
      await setFaults({ down: { providers: ['meta'] } });
      await sleep(60_000);
      await setFaults({});
      return "Meta answered 503 to every send for 60 s from 25 %; the deployment sender's fallback is a Twilio account";
    },
  },
  {
    name: 'provider-timeouts',
    what: 'provider takes 10 % of sends and answers too late (webhooks delivered)',
    env: { PROVIDER_TIMEOUT_MS: '2000' },
    faults: { timeout_rate: 0.1, timeout_ms: 4000 },
    async inject() {
      return '10 % of sends accepted and answered after 4 s (Herald gives up at 2 s), from the start; status webhooks delivered';
    },
  },
  {
    name: 'provider-timeouts-no-webhooks',
    what: 'provider takes 10 % of sends and answers too late (their webhooks dropped)',
    env: { PROVIDER_TIMEOUT_MS: '2000' },
    faults: { timeout_rate: 0.1, timeout_ms: 4000, webhooks: { timed_out: false } },
    async inject() {
      return '10 % of sends accepted and answered after 4 s, no webhook for those: each is retried after 10 s and is with the provider twice';
    },
  },
];

/** The simulator's Twilio account (SIMULATOR env below): the fallback sender of primary-down-fallback. */
const twilioAccount = { account_sid: 'AC00000000000000000000000000000001', auth_token: 'rel-twilio-token', from: '+15550001111' };

/** A Twilio sender on the simulator's account, stored through the admin API, as the deployment sender's fallback. */
async function twilioFallback({ apiUrl, adminToken }: { apiUrl: string; adminToken: string }): Promise<Record<string, string>> {
  const res = await fetch(`${apiUrl}/api/v1/admin/senders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
    body: JSON.stringify({
      provider: 'twilio',
      tenant: 'default',
      label: 'Fallback (Twilio)',
      mps: 1000,
      identifiers: { account_sid: twilioAccount.account_sid, from: twilioAccount.from },
      credentials: { auth_token: twilioAccount.auth_token },
    }),
  });
  if (res.status !== 201) throw new Error(`fallback sender not created: ${res.status} ${await res.text()}`);
  return { ENV_SENDER_FALLBACK: ((await res.json()) as { id: string }).id };
}

async function runScenario(s: Scenario): Promise<Row> {
  const id = randomUUID().slice(0, 8);
  const [apiPort, simPort] = [await freePort(), await freePort()];
  const env: Record<string, string> = {
    LOG_LEVEL: 'error',
    HOST: '127.0.0.1',
    PORT: String(apiPort),
    SIMULATOR_PORT: String(simPort),
    SIMULATOR_WEBHOOK_URL: `http://127.0.0.1:${apiPort}`,
    SIMULATOR_WEBHOOK_DELAYS_MS: '10,20,30',
    MONGO_URL: `mongodb://127.0.0.1:${mongoPort}/herald_rel_${id}?maxPoolSize=6`,
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    QUEUE_PREFIX: `{herald-rel-${id}}`,
    JWT_SECRET: randomUUID() + randomUUID(),
    META_API_BASE_URL: `http://127.0.0.1:${simPort}`,
    TWILIO_API_BASE_URL: `http://127.0.0.1:${simPort}`,
    META_ACCESS_TOKEN: 'rel-token',
    META_APP_SECRET: 'rel-app-secret',
    META_VERIFY_TOKEN: 'rel-verify',
    META_PHONE_NUMBER_ID: '106540352242922',
    PROVIDER_MPS: '100000',
    // Free-form text to numbers that never wrote: the 24-hour window is not what this measures.
    SERVICE_WINDOW_PROVIDERS: 'none',
    RETRY_BASE_DELAY_MS: '500',
    WORKER_LOCK_MS: '5000',
    WORKER_METRICS_PORT: '0',
    PUBLIC_BASE_URL: `http://127.0.0.1:${apiPort}`,
    // The simulator's Twilio account (a fallback sender uses it) and the key stored senders are sealed with.
    TWILIO_ACCOUNT_SID: twilioAccount.account_sid,
    TWILIO_AUTH_TOKEN: twilioAccount.auth_token,
    SENDER_KEYS: `rel:${Buffer.from(randomUUID().replaceAll('-', '')).toString('base64')}`,
    // Issue 14: a lost answer waits 10 s for its webhook; breakers as shipped.
    UNKNOWN_OUTCOME_WAIT_MS: '10000',
    ...s.env,
  };
  const node = (entry: string, extra: Record<string, string> = {}) => run(process.execPath, [`${root}${entry}`], { ...env, ...extra });
  const sim = node('apps/simulator/src/server.ts');
  const api = node('apps/api/src/server.ts');
  await waitPort(simPort, 'simulator');
  await waitPort(apiPort, 'api');
  const adminToken = mintToken(env.JWT_SECRET as string, { sub: 'reliability', role: 'admin' }, 3_600_000);
  const workerEnv = s.setup ? await s.setup({ apiUrl: `http://127.0.0.1:${apiPort}`, adminToken }) : {};
  const workers = Array.from({ length: workerCount }, () => node('apps/worker/src/main.ts', workerEnv));
  const simUrl = `http://127.0.0.1:${simPort}`;
  const setFaults = async (faults: object) => {
    const res = await fetch(`${simUrl}/_sim/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(faults),
    });
    if (!res.ok) throw new Error(`simulator refused faults: ${await res.text()}`);
  };
  if (s.faults) await setFaults(s.faults);
  const token = mintToken(env.JWT_SECRET as string, { sub: 'reliability', role: 'service' }, 3_600_000);
  const started = Date.now();
  log(`${s.name}: ${total} messages, ${workerCount} workers`);

  // Accept: 32 clients; a 5xx or network error is retried with the same Idempotency-Key.
  const ids = new Map<string, string>(); // phone → message id
  const phoneOf = (i: number) => `+9197${String(i).padStart(8, '0')}`;
  let next = 0;
  let retries = 0;
  let serverErrors = 0;
  const acceptAll = Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < total) {
        const i = next++;
        const phone = phoneOf(i);
        for (let attempt = 0; ; attempt++) {
          try {
            const res = await fetch(`http://127.0.0.1:${apiPort}/api/notifications/send-message`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'idempotency-key': `rel-${id}-${i}` },
              body: JSON.stringify({
                phone,
                message_type: 'system_alert',
                context: { alert_message: 'Water off 2-4 pm' },
                immediate: false,
              }),
              signal: AbortSignal.timeout(15_000),
            });
            if (res.status < 300) {
              ids.set(phone, ((await res.json()) as { id: string }).id);
              break;
            }
            if (res.status >= 500) serverErrors++;
            await res.body?.cancel();
            if (res.status < 500) throw new Error(`refused ${res.status}`);
          } catch (err) {
            if ((err as Error).message.startsWith('refused')) throw err;
          }
          retries++;
          if (attempt > 200) throw new Error(`could not get ${phone} accepted`);
          await sleep(250);
        }
      }
    }),
  );

  // The fault, once a quarter of the messages reached the simulator.
  let note = 'no fault injected';
  const stats = async () => (await (await fetch(`${simUrl}/_sim/stats`)).json()) as { accepted: number };
  const injected = (async () => {
    if (!s.inject) return;
    // 'start': as soon as the first message is sent (the workers are up), while accepting goes on.
    const at = s.injectAt === 'start' ? 1 : total / 4;
    while ((await stats()).accepted < at) await sleep(200);
    log(`${s.name}: injecting at ${(await stats()).accepted} sent`);
    note = await s.inject({ workers, startWorker: () => node('apps/worker/src/main.ts', workerEnv), setFaults });
  })();
  await Promise.all([acceptAll, injected]);
  log(`${s.name}: ${ids.size} accepted (${retries} retried requests); waiting for every message to end`);
  note += `; ${serverErrors} answers were 5xx`;

  const redisClient = createRedis({ REDIS_URL: env.REDIS_URL as string, REDIS_CLUSTER_NODES: undefined });
  const store = await connectStore({ url: env.MONGO_URL as string, locks: { redis: redisClient, prefix: env.QUEUE_PREFIX as string } });
  const finals = ['sent', 'delivered', 'read', 'failed', 'expired'] as const;
  const deadline = Date.now() + timeoutMs;
  let done = 0;
  while (Date.now() < deadline) {
    try {
      done = await store.messages.count({ status: [...finals] });
    } catch {}
    if (done >= ids.size) break;
    await sleep(2000);
  }
  // Late duplicates: give a stalled job's second send a moment to arrive.
  await sleep(3000);
  // Every message of this scenario's database (no more than were recorded: none is added now).
  const docs = await store.messages.list({}, Math.max(1, await store.messages.count()));
  const byId = new Map(docs.map((d) => [d._id, d.status]));
  const failedOver = docs.filter((d) => d.sent_by).length;
  let sent = 0;
  let failed = 0;
  let lost = 0;
  for (const msgId of ids.values()) {
    const status = byId.get(msgId);
    if (status === 'sent' || status === 'delivered' || status === 'read') sent++;
    else if (status === 'failed' || status === 'expired') failed++;
    else lost++;
  }
  const simMessages = ((await (await fetch(`${simUrl}/_sim/messages`)).json()) as { messages: { to: string }[] }).messages;
  const perPhone = new Map<string, number>();
  for (const m of simMessages) perPhone.set(m.to, (perPhone.get(m.to) ?? 0) + 1);
  const twice = [...perPhone.values()].filter((n) => n > 1).length;
  // What happened to a few of them: their timelines say which path sent them again.
  const twicePhones = new Set([...perPhone].filter(([, n]) => n > 1).map(([to]) => to.replace(/\D/g, '')));
  for (const doc of docs.filter((d) => twicePhones.has(d.phone.replace(/\D/g, ''))).slice(0, 5)) {
    const timeline = doc.events.map((e) => `${e.status}${e.detail ? ` (${e.detail.slice(0, 90)})` : ''}`).join(' → ');
    log(`${s.name}: sent twice: ${doc._id} ${doc.status}, attempts ${doc.attempts}: ${timeline}`);
  }
  await store.close();
  await redisClient.quit();

  for (const w of workers) await stop(w);
  await stop(api);
  await stop(sim);
  return {
    scenario: s.what,
    accepted: ids.size,
    sent,
    failed,
    lost,
    twice,
    failedOver,
    note,
    seconds: Math.round((Date.now() - started) / 1000),
  };
}

const rows: Row[] = [];
try {
  for (const s of scenarios) {
    if (args.only && !args.only.split(',').includes(s.name)) continue;
    rows.push(await runScenario(s));
    const r = rows.at(-1) as Row;
    log(`${s.name}: ${JSON.stringify(r)}`);
  }
} finally {
  await stop(redis);
  await stop(ferret);
  if (usePg) {
    try {
      execFileSync('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-qc', `DROP DATABASE IF EXISTS ${pgDb} WITH (FORCE)`]);
    } catch {}
  }
  rmSync(dataDir, { recursive: true, force: true });
}

process.stdout.write(`\nHerald reliability — ${new Date().toISOString()}, ${total} messages per scenario, ${workerCount} workers\n\n`);
process.stdout.write(
  '| scenario | accepted | sent | failed | lost | sent twice | failed over | seconds | what happened |\n|---|---|---|---|---|---|---|---|---|\n',
);
for (const r of rows)
  process.stdout.write(
    `| ${r.scenario} | ${r.accepted} | ${r.sent} | ${r.failed} | ${r.lost} | ${r.twice} | ${r.failedOver} | ${r.seconds} | ${r.note} |\n`,
  );
if (rows.some((r) => r.lost > 0)) process.exitCode = 1;
