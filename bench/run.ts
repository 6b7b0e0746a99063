// `pnpm bench`: measures Herald on this machine and prints a table. Starts its own simulator, API,
// worker and baseline server as real processes on loopback, against the Redis and MongoDB-wire
// server that scripts/bench.sh makes sure are running. Every figure comes from this one run.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { mintToken } from '@herald/api';
import { createQueues, createRedis, jobNames, parseConfig, type SendJob, sendJobOptions } from '@herald/shared';
import { metaSignature } from '@herald/simulator';
import { connectStore } from '@herald/store';
import { dropHeraldData, freePort, metric, scrape } from '@herald/test-utils';
import autocannon from 'autocannon';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    messages: { type: 'string', default: '1000' },
    'e2e-timeout': { type: 'string', default: '180' },
    webhooks: { type: 'string', default: '400' },
    'limiter-seconds': { type: 'string', default: '20' },
    /** Only these stages: e2e,send-message,send-bulk,webhooks,limiter,db (default: all). */
    only: { type: 'string' },
  },
});
const want = (stage: string) => !args.only || args.only.split(',').includes(stage);
const webhookRequests = Number(args.webhooks);
const limiterSeconds = Number(args['limiter-seconds']);
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
  // API, workers and this process share FerretDB's pool: keep their sum below it (packages/store, FerretDB profile).
  MONGO_URL: `${mongoBase}/herald_bench_${id}?maxPoolSize=15`,
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
  extra = { WORKER_METRICS_PORT: '0', ...extra };
  // BENCH_PROFILE=dir writes a V8 CPU profile of every process there (see CONTRIBUTING.md).
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const child = spawn(process.execPath, [...profile, `${root}${entry}`], {
    cwd: tmpdir(),
    // BENCH_NODE_OPTIONS=… tries V8/Node flags on every Herald process (e.g. --max-semi-space-size=1).
    env: {
      PATH: process.env.PATH ?? '',
      ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}),
      ...env,
      ...extra,
    },
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
// Each figure also goes to stderr as soon as it is measured, so an interrupted run keeps them.
const push = rows.push.bind(rows);
rows.push = (...items: [string, string][]) => {
  for (const [k, v] of items) process.stderr.write(`[bench]   ${k}: ${v}\n`);
  return push(...items);
};
const step = (what: string) => process.stderr.write(`[bench] ${new Date().toISOString().slice(11, 19)} ${what}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const redis = createRedis(config);
const store = await connectStore({ url: config.MONGO_URL, locks: { redis, prefix: config.QUEUE_PREFIX } });
const queues = createQueues(redis, config.QUEUE_PREFIX);
const apiUrl = `http://127.0.0.1:${ports.api}`;
const simUrl = `http://127.0.0.1:${ports.sim}`;

interface SimMessage {
  to: string;
  received_at: string;
}
const simMessages = async () => ((await (await fetch(`${simUrl}/_sim/messages`)).json()) as { messages: SimMessage[] }).messages;
const digits = (phone: string) => phone.replace(/\D/g, '');

/** accept → read for `n` messages with `workers` worker processes. */
async function endToEnd(token: string, n: number, workers: number) {
  step(`end to end: ${n} messages, ${workers} worker(s)`);
  const procs = Array.from({ length: workers }, () => start('apps/worker/src/main.ts'));
  await sleep(1500);
  const readBefore = await store.messages.count({ status: 'read' });
  const t0 = Date.now();
  const accept = await autocannon({
    url: `${apiUrl}/api/notifications/send-message`,
    method: 'POST',
    connections: 20,
    amount: n,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  const acceptedAt = Date.now();
  let read = 0;
  const deadline = t0 + e2eTimeoutS * 1000;
  while (Date.now() < deadline) {
    read = (await store.messages.count({ status: 'read' })) - readBefore;
    if (read >= n) break;
    await sleep(500);
  }
  const t1 = Date.now();
  const rate = Math.round((read / (t1 - t0)) * 1000);
  const rss = procs.map((p) => `${rssMb(p.pid)}/${peakRssMb(p.pid)}`).join(', ');
  for (const p of procs) await stop(p);
  rows.push([
    `end to end, ${n} messages, ${workers} worker${workers > 1 ? 's' : ''}`,
    `${rate} messages/s accept→read (accepting took ${((acceptedAt - t0) / 1000).toFixed(1)} s; ${read} read after ${((t1 - t0) / 1000).toFixed(1)} s${read < n ? `, stopped at the ${e2eTimeoutS} s limit` : ''}); non-2xx ${accept.non2xx}; worker RSS now/peak ${rss} MB`,
  ]);
  return procs;
}

/**
 * The limiter alone: a backlog of jobs added straight to the paused queue, two workers at
 * PROVIDER_MPS=`limit`, and the rate the simulator saw in whole seconds of the steady state.
 */
async function limiter(limit: number) {
  step(`limiter at ${limit}/s for ${limiterSeconds} s`);
  const n = limit * limiterSeconds;
  const phones = Array.from({ length: n }, (_, i) => `+9196${String(limit).padStart(4, '0')}${String(i).padStart(4, '0')}`);
  const wanted = new Set(phones.map(digits));
  await queues.send.pause();
  const now = new Date().toISOString();
  for (let i = 0; i < n; i += 1000) {
    await queues.send.addBulk(
      phones.slice(i, i + 1000).map((phone, j) => {
        const id = `lim${limit}-${i + j}-${id8}`;
        const data: SendJob = {
          v: 1,
          id,
          tenant: 'default',
          phone,
          message_type: 'system_alert',
          context: { alert_message: 'x' },
          expires_at: null,
          queued_at: now,
        };
        return { name: jobNames.send, data, opts: sendJobOptions(config, id, 0) };
      }),
    );
  }
  const metricPorts = [await freePort(), await freePort()];
  const procs = metricPorts.map((port) =>
    start('apps/worker/src/main.ts', { PROVIDER_MPS: String(limit), WORKER_CONCURRENCY: '100', WORKER_METRICS_PORT: String(port) }),
  );
  await sleep(2000);
  await queues.send.resume();
  const deadline = Date.now() + (limiterSeconds * 4 + 60) * 1000;
  let got: number[] = [];
  while (Date.now() < deadline) {
    got = (await simMessages()).filter((m) => wanted.has(digits(m.to))).map((m) => Date.parse(m.received_at));
    if (got.length >= n) break;
    await sleep(500);
  }
  // Why a job reached the simulator more than once: the workers' own count of attempts.
  const outcomes = { retry: 0, sent: 0, network: 0 };
  for (const port of metricPorts) {
    const m = await scrape(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
    if (!m) continue;
    outcomes.retry += metric(m, 'herald_send_attempts_total', { provider: 'meta', outcome: 'retry' });
    outcomes.sent += metric(m, 'herald_send_attempts_total', { provider: 'meta', outcome: 'sent' });
    outcomes.network += metric(m, 'herald_send_duration_seconds_count', { provider: 'meta', outcome: 'network' });
  }
  for (const p of procs) await stop(p);
  const repeats = got.length - new Set((await simMessages()).filter((m) => wanted.has(digits(m.to))).map((m) => digits(m.to))).size;
  got.sort((a, b) => a - b);
  const first = got[0] ?? 0;
  const last = got.at(-1) ?? 0;
  // Whole seconds from the first send, leaving out the first and the last (partial) second.
  const perSecond = new Map<number, number>();
  for (const t of got) perSecond.set(Math.floor((t - first) / 1000), (perSecond.get(Math.floor((t - first) / 1000)) ?? 0) + 1);
  const full = [...perSecond.entries()].filter(([s]) => s > 0 && s < Math.floor((last - first) / 1000)).map(([, c]) => c);
  const mean = full.length ? full.reduce((a, b) => a + b, 0) / full.length : got.length / Math.max(0.001, (last - first) / 1000);
  const max = full.length ? Math.max(...full) : Number.NaN;
  // BullMQ's limiter is a fixed window opened by its first job, not aligned to the clock: a
  // backlog bursts at each window's start, so one calendar second can hold two windows' worth.
  // Over the whole run N jobs need at least N/limit − 1 seconds, so N/(span + 1) is the rate
  // the limiter allowed (what the scale test checks); it is the accuracy figure.
  const spanS = (last - first) / 1000;
  const whole = got.length / (spanS + 1);
  const off = ((whole - limit) / limit) * 100;
  rows.push([
    `limiter at ${limit}/s (2 workers)`,
    `${whole.toFixed(1)}/s over the run (${off >= 0 ? '+' : ''}${off.toFixed(1)} %); per calendar second mean ${mean.toFixed(0)}, busiest ${max}; ${got.length}/${n} sent in ${((last - first) / 1000).toFixed(1)} s (${repeats} sent again: workers counted ${outcomes.sent} sent, ${outcomes.retry} retried, ${outcomes.network} network errors/timeouts)${Math.abs(off) <= 5 ? ' — within 5 %' : whole < limit ? ' — below the limit: the machine, not the limiter, set the pace' : ' — OVER the limit'}`,
  ]);
}
const id8 = id;

try {
  let base: Awaited<ReturnType<typeof cannon>> | undefined;
  let baselineRss = Number.NaN;
  if (want('send-message')) {
    step('baseline: bare Fastify + queue.add');
    const baseline = start('bench/baseline-server.ts', { QUEUE_PREFIX: `{bench-baseline-${id}}`, PORT: '0' });
    const { port: basePort } = JSON.parse(await firstLine(baseline)) as { port: number };
    base = await cannon(`http://127.0.0.1:${basePort}/send`, {});
    baselineRss = rssMb(baseline.pid);
    await stop(baseline);
  }

  const sim = start('apps/simulator/src/server.ts');
  const api = start('apps/api/src/server.ts');
  await waitHttp(`${simUrl}/_sim/messages?to=%2B1`);
  await waitHttp(`${apiUrl}/api/notifications/health`);
  const apiIdleRss = rssMb(api.pid);
  const token = mintToken(env.JWT_SECRET as string, { sub: 'bench', role: 'service' }, 3_600_000);

  // End to end first, on the fresh database, with 1 then 2 workers.
  if (want('e2e')) {
    await endToEnd(token, e2eMessages, 1);
    await endToEnd(token, e2eMessages, 2);
  }

  // Herald's send-message, immediate:false, no worker running (the two routes then do the same
  // Redis work; a worker would compete for the same two cores).
  if (base) {
    step('Herald send-message, immediate:false, beside the baseline');
    const before = await store.messages.count();
    const herald = await cannon(`${apiUrl}/api/notifications/send-message`, { authorization: `Bearer ${token}` });
    const recorded = (await store.messages.count()) - before;
    const apiRssAfterLoad = rssMb(api.pid);
    step(
      `  Herald send-message: ${herald.rps} req/s, p50 ${herald.p50} ms, p99 ${herald.p99} ms (baseline ${base.rps} req/s, p99 ${base.p99} ms)`,
    );
    await queues.send.drain(true);
    rows.unshift(
      [
        'baseline: Fastify + queue.add',
        `${base.rps} req/s, p50 ${base.p50} ms, p99 ${base.p99} ms (${connections} connections, ${duration} s)`,
      ],
      [
        'Herald send-message (immediate:false)',
        `${herald.rps} req/s, p50 ${herald.p50} ms, p99 ${herald.p99} ms; non-2xx ${herald.non2xx}, errors ${herald.errors}; ${recorded} recorded`,
      ],
      ['send-message ÷ baseline', `${(herald.rps / base.rps).toFixed(2)} (goal ≥ 0.6, p99 ≤ 25 ms)`],
    );
    rows.push(
      ['RSS baseline server', `${baselineRss} MB after its load`],
      ['RSS API', `${apiIdleRss} MB idle, ${apiRssAfterLoad} MB after the send-message load, peak ${peakRssMb(api.pid)} MB (goal ≤ 150)`],
    );
  }

  // send-bulk, where the route exists (issue 4 adds it).
  if (want('send-bulk')) {
    step('send-bulk');
    const bulkProbe = await fetch(`${apiUrl}/api/notifications/send-bulk`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ messages: [body] }),
    });
    if (bulkProbe.status === 404) {
      rows.push(['send-bulk', 'skipped: no send-bulk route on this branch']);
    } else {
      const batch = JSON.stringify({ messages: Array.from({ length: 500 }, () => body) });
      const t = performance.now();
      let msgs = 0;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          for (let i = 0; i < 5; i++) {
            const res = await fetch(`${apiUrl}/api/notifications/send-bulk`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
              body: batch,
            });
            if (res.status < 300) msgs += 500;
            await res.body?.cancel();
          }
        }),
      );
      rows.push(['send-bulk (4 clients × 5 requests × 500)', `${Math.round((msgs / (performance.now() - t)) * 1000)} messages/s accepted`]);
      await queues.send.drain(true);
    }
  }

  // Webhook ingest: signed Meta status webhooks for messages already sent, 10 statuses each,
  // posted 50 at a time; measured until the worker has applied every one.
  if (want('webhooks')) {
    step(`webhook ingest: ${webhookRequests} requests × 10 statuses`);
    // Messages the provider accepted: every one of them has a provider id.
    const sentDocs = (await store.messages.list({ status: ['sent', 'delivered', 'read'] }, 2000)).filter(
      (d) => d.provider_message_id !== null,
    );
    const perRequest = 10;
    const bodies = Array.from({ length: webhookRequests }, (_, r) => {
      const statuses = Array.from({ length: perRequest }, (_, k) => {
        const doc = sentDocs[(r * perRequest + k) % sentDocs.length];
        return {
          id: doc?.provider_message_id,
          status: 'read',
          timestamp: String(1_800_000_000 + r * perRequest + k),
          recipient_id: digits(doc?.phone ?? '1'),
        };
      });
      return JSON.stringify({
        object: 'whatsapp_business_account',
        entry: [
          {
            id: 'bench',
            changes: [
              {
                field: 'messages',
                value: {
                  messaging_product: 'whatsapp',
                  metadata: { display_phone_number: '1', phone_number_id: env.META_PHONE_NUMBER_ID },
                  statuses,
                },
              },
            ],
          },
        ],
      });
    });
    const statusBefore = (await queues.status.getJobCounts('completed')).completed ?? 0;
    const ingestWorker = start('apps/worker/src/main.ts');
    await sleep(1500);
    const tw = performance.now();
    let nextBody = 0;
    let posted = 0;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (nextBody < bodies.length) {
          const b = bodies[nextBody++] as string;
          const res = await fetch(`${apiUrl}/api/v1/whatsapp/webhook`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-hub-signature-256': metaSignature(b, env.META_APP_SECRET as string) },
            body: b,
          });
          if (res.ok) posted++;
          await res.body?.cancel();
        }
      }),
    );
    const postedMs = performance.now() - tw;
    let applied = 0;
    for (let i = 0; i < 600; i++) {
      applied = ((await queues.status.getJobCounts('completed')).completed ?? 0) - statusBefore;
      if (applied >= posted) break;
      await sleep(200);
    }
    const appliedMs = performance.now() - tw;
    const ingestRss = `${rssMb(ingestWorker.pid)}/${peakRssMb(ingestWorker.pid)}`;
    await stop(ingestWorker);
    rows.push([
      `webhook ingest (${perRequest} statuses/request, 50 clients)`,
      `${Math.round(((applied * perRequest) / appliedMs) * 1000)} events/s applied (${applied}/${posted} requests); the API alone took ${Math.round(((posted * perRequest) / postedMs) * 1000)} events/s (${Math.round((posted / postedMs) * 1000)} requests/s); worker RSS now/peak ${ingestRss} MB`,
    ]);
  }

  if (want('limiter')) {
    await limiter(80);
    await limiter(1000);
  }

  // The database alone, for scale: what FerretDB (or MongoDB) does without Herald around it. Each
  // figure times one store operation that is a single plain database command, nothing else:
  //   inserts     orphans.keep of one event: one insert of one small document (webhook_orphans)
  //   finds       settings.get: one findOne by _id (notification_settings, 2,000 seeded first, untimed)
  //   updates     messages.addEvent on an id no message has: one updateOne by _id matching nothing
  //   insertMany  orphans.keep of 100 events: one insertMany of 100 small documents
  // None of them touches the statistics counters or takes a lock.
  if (want('db')) {
    step('the database alone: inserts and lookups by _id, 20 at a time');
    const probeOps = 2000;
    const pad = 'x'.repeat(400);
    const receivedAt = new Date();
    const probeEvent = (id: string) => ({
      id,
      event: { provider_message_id: id, status: 'read' as const, at: receivedAt.toISOString(), key: pad },
    });
    const probePhone = (i: number) => `+9199${String(i).padStart(8, '0')}`;
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
    const insertsPerS = await runConcurrent((i) => store.orphans.keep('bench', receivedAt, [probeEvent(`p${i}`)]));
    await runConcurrent((i) => store.settings.update(probePhone(i), { opted_out: false }, 'bench'));
    const lookupsPerS = await runConcurrent((i) => store.settings.get(probePhone(i)));
    const messagesInDb = await store.messages.count();
    const noop = { status: 'bench', at: receivedAt.toISOString(), source: 'worker' as const, attempt: null, detail: null };
    const updatesPerS = await runConcurrent((i) => store.messages.addEvent(`none-${i}`, noop));
    const tb = performance.now();
    for (let i = 0; i < 20; i++)
      await store.orphans.keep(
        'bench',
        receivedAt,
        Array.from({ length: 100 }, (_, k) => probeEvent(`b${i}-${k}`)),
      );
    const batchedPerS = Math.round((2000 / (performance.now() - tb)) * 1000);

    rows.push([
      'database alone (20 concurrent)',
      `${insertsPerS} inserts/s, ${lookupsPerS} finds by _id/s (2,000 small docs); ${updatesPerS} updates by _id/s on the ${messagesInDb}-message collection; ${batchedPerS} docs/s by insertMany of 100`,
    ]);
  }
  await stop(api);
  await stop(sim);
} finally {
  for (const c of children) await stop(c);
  await Promise.all(Object.values(queues).map((q) => q.close()));
  await store.close();
  await redis.quit();
  await dropHeraldData(config);
}

const width = Math.max(...rows.map(([k]) => k.length));
process.stdout.write(
  `\nHerald benchmark — ${new Date().toISOString()}, node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg()[0]?.toFixed(1)}; PROVIDER_MPS=${env.PROVIDER_MPS} except the limiter rows\n\n`,
);
for (const [k, v] of rows) process.stdout.write(`${k.padEnd(width)}  ${v}\n`);
