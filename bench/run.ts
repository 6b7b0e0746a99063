// `pnpm bench`: measures Herald on this machine and prints a table. Starts its own simulator, API,
// worker and baseline server as real processes on loopback, against the Redis and MongoDB-wire
// server that scripts/bench.sh makes sure are running. Every figure comes from this one run.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { mintToken } from '@herald/api';
import { collections, connectMongo, createQueues, createRedis, parseConfig } from '@herald/shared';
import { dropHeraldData } from '@herald/test-utils';
import autocannon from 'autocannon';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    messages: { type: 'string', default: '1000' },
    'e2e-timeout': { type: 'string', default: '180' },
  },
});
const duration = Number(args.duration);
const connections = Number(args.connections);
const e2eMessages = Number(args.messages);
const e2eTimeoutS = Number(args['e2e-timeout']);

const root = new URL('../', import.meta.url).pathname;
const id = randomUUID().slice(0, 8);
const mongoBase = (process.env.TEST_MONGO_URL ?? 'mongodb://127.0.0.1:27017').replace(/\/+$/, '');
const ports = { api: 3900 + Math.floor(Math.random() * 50), sim: 4900 + Math.floor(Math.random() * 50) };
const env: Record<string, string> = {
  LOG_LEVEL: 'warn',
  HOST: '127.0.0.1',
  PORT: String(ports.api),
  SIMULATOR_PORT: String(ports.sim),
  SIMULATOR_WEBHOOK_URL: `http://127.0.0.1:${ports.api}`,
  MONGO_URL: `${mongoBase}/herald_bench_${id}`,
  REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
  QUEUE_PREFIX: `{herald-bench-${id}}`,
  JWT_SECRET: randomUUID() + randomUUID(),
  META_API_BASE_URL: `http://127.0.0.1:${ports.sim}`,
  META_ACCESS_TOKEN: 'bench-token',
  META_APP_SECRET: 'bench-app-secret',
  META_VERIFY_TOKEN: 'bench-verify',
  META_PHONE_NUMBER_ID: '106540352242922',
  // Far above anything measured here, so the limiter is not what the end-to-end figure shows.
  PROVIDER_MPS: '100000',
  RETRY_BASE_DELAY_MS: '1000',
  SIMULATOR_WEBHOOK_DELAYS_MS: '10,20,30',
};
const config = parseConfig(env);

const children: ChildProcess[] = [];
function start(entry: string, extra: Record<string, string> = {}): ChildProcess {
  // BENCH_PROFILE=dir writes a V8 CPU profile of every process there (see CONTRIBUTING.md).
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const child = spawn(process.execPath, [...profile, `${root}${entry}`], {
    cwd: tmpdir(),
    env: { PATH: process.env.PATH ?? '', ...env, ...extra },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return child;
}
async function stop(child: ChildProcess) {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}
const rssMb = (pid: number | undefined) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : Number.NaN;
};
const peakRssMb = (pid: number | undefined) => {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : Number.NaN;
};
async function waitHttp(url: string) {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(url)).status < 500) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up`);
}
const firstLine = (child: ChildProcess) =>
  new Promise<string>((resolve) => child.stdout?.once('data', (b: Buffer) => resolve(b.toString().split('\n')[0] ?? '')));

const body = {
  phone: '+919876543210',
  message_type: 'order_confirmation',
  context: { order_id: 'ORD-1', delivery_date: '2026-02-01', total_amount: '240' },
  immediate: false,
};

async function cannon(url: string, headers: Record<string, string>) {
  const result = await autocannon({
    url,
    method: 'POST',
    connections,
    duration,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return {
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

const rows: [string, string][] = [];
const step = (what: string) => process.stderr.write(`[bench] ${what}\n`);
const mongo = await connectMongo(config.MONGO_URL);
const db = collections(mongo.db());
const redis = createRedis(config);
const queues = createQueues(redis, config.QUEUE_PREFIX);

try {
  step('baseline: bare Fastify + queue.add');
  const baseline = start('bench/baseline-server.ts', { QUEUE_PREFIX: `{bench-baseline-${id}}`, PORT: '0' });
  const { port: basePort } = JSON.parse(await firstLine(baseline)) as { port: number };
  const base = await cannon(`http://127.0.0.1:${basePort}/send`, {});
  const baselineRss = rssMb(baseline.pid);
  await stop(baseline);

  // 2. Herald's send-message, immediate:false, no worker running (the two routes do the same
  // Redis work; a worker would compete for the same two cores).
  // 2. End to end first, on the fresh database: from the first accept to the last `read`
  // webhook applied, through the simulator, with one worker.
  step(`end to end: ${e2eMessages} messages, 1 worker`);
  const sim = start('apps/simulator/src/server.ts');
  const api = start('apps/api/src/server.ts');
  await waitHttp(`http://127.0.0.1:${ports.sim}/_sim/messages?to=%2B1`);
  await waitHttp(`http://127.0.0.1:${ports.api}/api/notifications/health`);
  const token = mintToken(env.JWT_SECRET as string, { sub: 'bench', role: 'service' }, 3_600_000);
  const worker = start('apps/worker/src/main.ts');
  await new Promise((r) => setTimeout(r, 1500));
  const t0 = Date.now();
  const accept = await autocannon({
    url: `http://127.0.0.1:${ports.api}/api/notifications/send-message`,
    method: 'POST',
    connections: 20,
    amount: e2eMessages,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  const acceptedAt = Date.now();
  let read = 0;
  const deadline = t0 + e2eTimeoutS * 1000;
  while (Date.now() < deadline) {
    read = await db.messages.countDocuments({ status: 'read' });
    if (read >= e2eMessages) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const t1 = Date.now();
  const sent = await db.messages.countDocuments({ status: { $in: ['sent', 'delivered', 'read'] } });
  const e2eRate = Math.round((read / (t1 - t0)) * 1000);
  const workerRss = rssMb(worker.pid);
  const workerPeak = peakRssMb(worker.pid);
  await stop(worker);

  // 3. Herald's send-message, immediate:false, with the worker stopped (both routes then do the
  // same Redis work; a worker would compete for the same two cores).
  step('Herald send-message, immediate:false, beside the baseline');
  const herald = await cannon(`http://127.0.0.1:${ports.api}/api/notifications/send-message`, { authorization: `Bearer ${token}` });
  const recorded = (await db.messages.countDocuments({})) - e2eMessages;
  const apiRssAfterLoad = rssMb(api.pid);
  const apiPeak = peakRssMb(api.pid);

  // 4. The database alone, for scale: what FerretDB (or MongoDB) does without Herald around it.
  step('the database alone: inserts and lookups by _id, 20 at a time');
  const probe = mongo.db().collection<{ _id: string; n: number; pad: string }>('bench_probe');
  const probeOps = 2000;
  const runConcurrent = async (fn: (i: number) => Promise<unknown>) => {
    const t = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (next < probeOps) await fn(next++);
      }),
    );
    return Math.round((probeOps / (performance.now() - t)) * 1000);
  };
  const insertsPerS = await runConcurrent((i) => probe.insertOne({ _id: `p${i}`, n: i, pad: 'x'.repeat(400) }));
  const lookupsPerS = await runConcurrent((i) => probe.findOne({ _id: `p${i}` }));
  const messagesInDb = await db.messages.countDocuments({});
  const updatesPerS = await runConcurrent((i) => db.messages.updateOne({ _id: `none-${i}` }, { $set: { x: 1 } }));

  rows.push(
    [
      'baseline: Fastify + queue.add',
      `${base.rps} req/s, p50 ${base.p50} ms, p99 ${base.p99} ms (${connections} connections, ${duration} s)`,
    ],
    [
      'Herald send-message (immediate:false)',
      `${herald.rps} req/s, p50 ${herald.p50} ms, p99 ${herald.p99} ms; non-2xx ${herald.non2xx}, errors ${herald.errors}; ${recorded} recorded`,
    ],
    ['send-message ÷ baseline', (herald.rps / base.rps).toFixed(2)],
    [
      `end to end, ${e2eMessages} messages, 1 worker`,
      `${e2eRate} messages/s accept→read: accepting took ${((acceptedAt - t0) / 1000).toFixed(1)} s; after ${((t1 - t0) / 1000).toFixed(1)} s ${read} read, ${sent} sent or beyond${read < e2eMessages ? ` (stopped at the ${e2eTimeoutS} s limit)` : ''}; non-2xx ${accept.non2xx}`,
    ],
    [
      'database alone (20 concurrent)',
      `${insertsPerS} inserts/s, ${lookupsPerS} finds by _id/s (2,000 small docs); ${updatesPerS} updates by _id/s on the ${messagesInDb}-message collection`,
    ],
    ['RSS baseline server', `${baselineRss} MB`],
    ['RSS API', `${apiRssAfterLoad} MB after the load, peak ${apiPeak} MB`],
    ['RSS worker', `${workerRss} MB at the end, peak ${workerPeak} MB`],
  );
  await stop(api);
  await stop(sim);
} finally {
  for (const c of children) await stop(c);
  await Promise.all(Object.values(queues).map((q) => q.close()));
  await redis.quit();
  await mongo.close();
  await dropHeraldData(config);
}

const width = Math.max(...rows.map(([k]) => k.length));
process.stdout.write(`\nHerald benchmark — ${new Date().toISOString()}, node ${process.version}, PROVIDER_MPS=${env.PROVIDER_MPS}\n\n`);
for (const [k, v] of rows) process.stdout.write(`${k.padEnd(width)}  ${v}\n`);
