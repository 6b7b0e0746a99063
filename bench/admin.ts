// `pnpm bench:admin`: the admin surface at volume — history with filters and 30-day statistics
// over a large store, the console's overview and search pages, and send-bulk acceptance. Loads its
// own database (parameter: --messages, default 100,000; the target is 1,000,000), runs the API in
// this process on loopback, and prints the figures. No worker runs: send-bulk is measured up to "recorded and queued".
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { fastifyOptions, app as heraldApi, mintToken } from '@herald/api';
import {
  createQueues,
  createRedis,
  dayKey,
  latencyBucket,
  type MessageDocument,
  type MessageStatus,
  newMessageDocument,
  newMessageId,
  parseConfig,
} from '@herald/shared';
import { connectStore, type Store } from '@herald/store';
import { dropHeraldData } from '@herald/test-utils';
import Fastify from 'fastify';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '100000' },
    'history-requests': { type: 'string', default: '200' },
    /** Time budget per measured shape, in seconds (at least one request is always made). */
    budget: { type: 'string', default: '20' },
    'bulk-requests': { type: 'string', default: '20' },
    'bulk-concurrency': { type: 'string', default: '2' },
    /** Reuse (and keep) a loaded database of this name instead of a fresh one. */
    keep: { type: 'string' },
  },
});
const total = Number(args.messages);
const mongoBase = (process.env.TEST_MONGO_URL ?? 'mongodb://127.0.0.1:27017').replace(/\/+$/, '');
const id = args.keep ?? randomUUID().slice(0, 8);
const config = parseConfig({
  LOG_LEVEL: 'warn',
  // API, workers and this process share FerretDB's pool: keep their sum below it (packages/store, FerretDB profile).
  MONGO_URL: `${mongoBase}/herald_bench_admin_${id}?maxPoolSize=15`,
  REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
  QUEUE_PREFIX: `{herald-bench-admin-${id}}`,
  JWT_SECRET: randomUUID() + randomUUID(),
  META_ACCESS_TOKEN: 'bench',
  META_APP_SECRET: 'bench',
  META_PHONE_NUMBER_ID: '106540352242922',
  // Send-bulk to numbers that never wrote: measured as before the 24-hour window existed.
  SERVICE_WINDOW_PROVIDERS: 'none',
});

const statuses: MessageStatus[] = ['read', 'read', 'read', 'delivered', 'delivered', 'sent', 'failed', 'queued', 'expired', 'cancelled'];
const types = ['delivery_reminder', 'order_confirmation', 'payment_reminder', 'payment_confirmation', 'churn_risk'];
const tenants = ['acme', 'globex', 'initech', 'default'];
const phoneOf = (i: number) => `+9198${String(i % 50_000).padStart(8, '0')}`;
const dayMs = 86_400_000;

function fixture(i: number, now: number): MessageDocument {
  const created = new Date(now - Math.floor(((i * 7919) % 30_000) / 1000) * dayMs - (i % 86_400) * 1000);
  const status = statuses[i % statuses.length] as MessageStatus;
  const sentLike = status === 'sent' || status === 'delivered' || status === 'read';
  const q2s = 50 + ((i * 31) % 5000);
  const s2d = 200 + ((i * 17) % 20_000);
  const doc = newMessageDocument({
    _id: newMessageId(),
    tenant: tenants[i % tenants.length] as string,
    phone: phoneOf(i),
    message_type: types[i % types.length] as string,
    context: { customer_name: 'Asha', delivery_date: '2026-02-01' },
    reference_id: `order_${i % 200_000}`,
    status,
    provider: 'meta',
    created_at: created,
    queued_at: created,
    ...(sentLike ? { sent_at: new Date(created.getTime() + q2s), message_text: 'Hi Asha, your delivery is scheduled.' } : {}),
  });
  if (sentLike) {
    doc.queued_to_sent_ms = q2s;
    doc.queued_to_sent_bucket = latencyBucket(q2s) ?? undefined;
  }
  if (status === 'delivered' || status === 'read') {
    doc.sent_to_delivered_ms = s2d;
    doc.sent_to_delivered_bucket = latencyBucket(s2d) ?? undefined;
  }
  return doc;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? Number.NaN;
};
const fmt = (n: number) => n.toFixed(1);

/**
 * How many fixture messages a kept store holds, from its statistics counters (a few hundred small
 * documents): counting the messages (even "estimated") makes FerretDB read every document. The
 * bulk messages (tenant `bench`) are not fixtures.
 */
async function loadedFixtures(store: Store): Promise<number> {
  let n = 0;
  for (const c of await store.statistics.counters('0000-01-01', '9999-12-31')) {
    if (c.tenant === 'bench') continue;
    for (const k of Object.values(c.by_status)) n += k ?? 0;
  }
  return n;
}

async function main() {
  const redis = createRedis(config);
  const store = await connectStore({ url: config.MONGO_URL, locks: { redis, prefix: config.QUEUE_PREFIX } });
  // No request timeout here: on FerretDB some queries take longer than the API's 30 s limit, and
  // the bench is meant to report how long, not a dropped connection.
  const api = Fastify({ ...fastifyOptions, logger: false, requestTimeout: 0, connectionTimeout: 0 });
  await api.register(heraldApi, { config });
  const base = await api.listen({ host: '127.0.0.1', port: 0 });
  const admin = mintToken(config.JWT_SECRET as string, { sub: 'bench', role: 'admin' }, 3_600_000);
  const viewer = mintToken(config.JWT_SECRET as string, { sub: 'bench', role: 'viewer', tenant: 'acme' }, 3_600_000);
  const service = mintToken(config.JWT_SECRET as string, { sub: 'bench', role: 'service', tenant: 'bench' }, 3_600_000);

  // Load.
  const have = await loadedFixtures(store);
  const now = Date.now();
  if (have < total) {
    const t0 = performance.now();
    const batch = 5000;
    for (let i = have; i < total; i += batch) {
      const docs = Array.from({ length: Math.min(batch, total - i) }, (_, k) => fixture(i + k, now));
      await store.messages.insertMany(docs);
      if ((i / batch) % 20 === 0) process.stderr.write(`loaded ${i + docs.length}/${total}\n`);
    }
    // The store keeps the statistics counters with every insert: the load ends when they are written.
    await store.statistics.idle();
    const s = (performance.now() - t0) / 1000;
    console.log(`load: ${total - have} messages in ${fmt(s)} s (${Math.round((total - have) / s)}/s)`);
    // Count the counters again the way an operator repairs them (`pnpm stats:rebuild`), and report
    // how long that takes.
    const tr = performance.now();
    const counters = await store.statistics.rebuild();
    console.log(`stats:rebuild over ${total} messages: ${counters} counter documents in ${fmt((performance.now() - tr) / 1000)} s`);
  }
  const stored = Math.max(have, total);

  const lines: string[] = [];
  const get = async (url: string, token: string) => {
    const t = performance.now();
    const res = await fetch(`${base}${url}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(600_000) });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
    return performance.now() - t;
  };
  const budgetMs = Number(args.budget) * 1000;
  /** Runs `one` up to `max` times or until the budget is spent (at least once). */
  const measure = async (max: number, one: (i: number) => Promise<number>) => {
    const times: number[] = [];
    const start = performance.now();
    try {
      for (let i = 0; i < max && (i === 0 || performance.now() - start < budgetMs); i++) times.push(await one(i));
    } catch (err) {
      // A request that outlives fetch's 5-minute header limit: report the time, go on.
      if (times.length === 0) times.push(performance.now() - start);
      process.stderr.write(`  (gave up after ${fmt((performance.now() - start) / 1000)} s: ${(err as Error).message})\n`);
    }
    return times;
  };
  const report = (line: string) => {
    process.stderr.write(`${line}\n`);
    lines.push(line);
  };

  // History with filters: a mix of what admins and services ask.
  const n = Number(args['history-requests']);
  const shapes: [string, (i: number) => string, string][] = [
    ['phone', (i) => `/api/notifications/history?phone=${encodeURIComponent(phoneOf(i * 13))}`, viewer],
    ['phone path', (i) => `/api/notifications/history/${phoneOf(i * 17).slice(1)}`, viewer],
    ['reference_id', (i) => `/api/notifications/history?reference_id=order_${(i * 101) % 200_000}`, viewer],
    [
      'status+type',
      (i) => `/api/notifications/history?status=${statuses[i % statuses.length]}&message_type=${types[i % types.length]}&limit=50`,
      viewer,
    ],
    ['admin all, 7 days', () => '/api/notifications/history?days=7', admin],
  ];
  for (const [name, url, token] of shapes) {
    await get(url(0), token); // warm
    const times = await measure(n / shapes.length, (k) => get(url(k + 10), token));
    report(
      `history ${name.padEnd(18)} p50 ${fmt(pct(times, 50)).padStart(9)} ms   p95 ${fmt(pct(times, 95)).padStart(9)} ms   (${times.length} requests)`,
    );
  }

  // Statistics, 30 days, all tenants (the worst case) and one tenant.
  for (const [name, token] of [
    ['all tenants', admin],
    ['one tenant', viewer],
  ] as const) {
    const times = await measure(5, () => get('/api/notifications/statistics?days=30', token));
    report(
      `statistics 30 d, ${name.padEnd(11)} p50 ${fmt(pct(times, 50)).padStart(9)} ms   max ${fmt(Math.max(...times)).padStart(9)} ms   (${times.length} requests)`,
    );
  }

  // The console (issue 15): the overview and a search by phone as a browser asks for them, with the
  // session cookie of an admin sign-in. Each page reads the JSON API in-process, so these time the
  // whole page: the API's work plus the HTML.
  const login = await fetch(`${base}/admin/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: base },
    body: new URLSearchParams({ token: admin, next: '/console' }),
    redirect: 'manual',
  });
  const cookie = login.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  if (login.status !== 303 || !cookie) throw new Error(`console sign-in: ${login.status}`);
  const consolePage = async (url: string) => {
    const t = performance.now();
    const res = await fetch(`${base}${url}`, { headers: { cookie }, redirect: 'manual', signal: AbortSignal.timeout(600_000) });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
    return performance.now() - t;
  };
  const consoleShapes: [string, (i: number) => string][] = [
    ['overview', () => '/console'],
    ['search by phone', (i) => `/console/messages?phone=${encodeURIComponent(phoneOf(i * 19).slice(1))}`],
    ['search by reference', (i) => `/console/messages?reference_id=order_${(i * 101) % 200_000}`],
    ['search by status', (i) => `/console/messages?status=${statuses[i % statuses.length]}`],
  ];
  for (const [name, url] of consoleShapes) {
    await consolePage(url(0)); // warm
    const times = await measure(20, (k) => consolePage(url(k + 10)));
    report(
      `console ${name.padEnd(20)} p50 ${fmt(pct(times, 50)).padStart(9)} ms   p95 ${fmt(pct(times, 95)).padStart(9)} ms   (${times.length} requests)`,
    );
  }

  // send-bulk: 1,000 per request.
  const bulkRequests = Number(args['bulk-requests']);
  const concurrency = Number(args['bulk-concurrency']);
  let next = 0;
  let accepted = 0;
  const body = (r: number) =>
    JSON.stringify({
      messages: Array.from({ length: 1000 }, (_, k) => ({
        phone: phoneOf(r * 1000 + k),
        message_type: 'delivery_reminder',
        context: { customer_name: 'Asha', delivery_date: '2026-02-01' },
        reference_id: `bulk_${r}_${k}`,
        immediate: false,
      })),
    });
  const payloads = Array.from({ length: bulkRequests }, (_, r) => body(r));
  const tb = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let r = next++; r < bulkRequests; r = next++) {
        const res = await fetch(`${base}/api/notifications/send-bulk`, {
          method: 'POST',
          headers: { authorization: `Bearer ${service}`, 'content-type': 'application/json' },
          body: payloads[r] as string,
        });
        const out = (await res.json()) as { results: { id?: string }[] };
        accepted += out.results.filter((x) => x.id).length;
      }
    }),
  );
  const bulkS = (performance.now() - tb) / 1000;
  lines.push(
    `send-bulk ${bulkRequests} × 1,000, ${concurrency} at a time: ${accepted} accepted in ${fmt(bulkS)} s = ${Math.round(accepted / bulkS)} messages/s`,
  );

  console.log(`\nHerald admin bench — ${stored} stored messages (${dayKey(new Date())}), MongoDB-wire server at ${mongoBase}\n`);
  for (const l of lines) console.log(l);

  await api.close();
  if (args.keep) {
    // Keep the loaded messages for the next run; only the bulk ones and the queue go. Removing a
    // message takes it out of the statistics counters too (the bulk ones' counters end at zero).
    for (;;) {
      const bulk = await store.messages.list({ tenant: 'bench' }, 50_000);
      if (bulk.length === 0) break;
      await store.messages.remove(bulk);
    }
    await store.close();
    const queues = createQueues(redis, config.QUEUE_PREFIX);
    await Promise.all(Object.values(queues).map((q) => q.obliterate({ force: true }).then(() => q.close())));
    await redis.quit();
  } else {
    await store.close();
    await redis.quit();
    await dropHeraldData(config);
  }
}

await main();
process.exit(0);
