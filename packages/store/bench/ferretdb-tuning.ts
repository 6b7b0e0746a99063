// `node packages/store/bench/ferretdb-tuning.ts`: measures FerretDB 1.24 on PostgreSQL as it comes
// against what scripts/lib/services.sh and scripts/lib/ferretdb-gin.sql now apply, on Herald's
// message documents, and prints Markdown tables (docs/ferretdb-tuning.md holds runs). The default
// run takes 8–10 minutes on the 2-core development machine.
//
// It works only in its OWN PostgreSQL databases (ferretdb_bench_*, created and dropped here) with
// its OWN FerretDB processes on loopback ports from 27117 up; the database `ferretdb` and port 27017
// (the FerretDB the scripts start) are never touched. One FerretDB runs at a time.
//
// Seeding: one database per size (--sizes, default 10,000 and 100,000 messages) is loaded once
// through FerretDB with insertMany batches of 1,000, with the GIN indexes as the start script used
// to make them (fastupdate on, so the pending lists hold what real inserts leave). Each
// configuration then measures a fresh copy (CREATE DATABASE … TEMPLATE) of each seed:
//   - fastupdate off: scripts/lib/ferretdb-gin.sql is applied to the copy, i.e. the real upgrade
//     path of an existing database (indexes switched off, pending lists merged);
//   - database settings by ALTER DATABASE before its FerretDB starts;
//   - B-tree indexes: the driver's createIndexes for Herald's message indexes, run once on a copy
//     of each seed (ferretdb_bench_seed_<size>_btree) that those configurations copy in turn.
// Then 16 concurrent clients (--clients) run each operation for --seconds (default 3), in this
// order, on the same collection (nothing vacuums it in between):
//   history page    find {tenant, created_at range} sorted by created_at desc, limit 50, plus its
//                   countDocuments (as the store's historyPage does), for a small tenant (0.2 % of
//                   the messages). Only `tenant` is pushed down to PostgreSQL and no index serves
//                   it; it runs first, as a dashboard's first look after a start would.
//   find by _id, find by provider_message_id, updateOne by _id ($set + $push an event),
//   findOneAndUpdate by _id ($set + $inc + $push, returnDocument before), insertOne,
//   insertMany (batches of 100; documents per second).
// It prints two tables: completed operations per second, and the CPU that FerretDB and its
// PostgreSQL backends spent per operation (read from /proc: it hardly moves when other work shares
// the machine, where a rate does). With --repeat N every configuration is measured N times,
// interleaved, and the tables show the best of them.
//
// Options: --sizes 10000,100000  --seconds 3  --clients 16  --repeat 1  --pool <clients + 4>
//          --configs before,after,...
//          (names below; default: before,after and the four (c))  --ops <name prefixes>
//          --pg-host 127.0.0.1 --pg-port 5432 --pg-user postgres
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Collection, type IndexDescription, MongoClient } from 'mongodb';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,100000' },
    seconds: { type: 'string', default: '3' },
    clients: { type: 'string', default: '16' },
    configs: { type: 'string' },
    ops: { type: 'string' },
    repeat: { type: 'string', default: '1' },
    /** FerretDB's pool_max_conns (default: clients + 4). */
    pool: { type: 'string' },
    'pg-host': { type: 'string', default: '127.0.0.1' },
    'pg-port': { type: 'string', default: '5432' },
    'pg-user': { type: 'string', default: 'postgres' },
  },
});
const sizes = args.sizes
  .split(',')
  .map(Number)
  .sort((a, b) => a - b);
const phaseMs = Number(args.seconds) * 1000;
const clients = Number(args.clients);
const repeat = Number(args.repeat);
const root = new URL('../../../', import.meta.url).pathname;
const ginSql = join(root, 'scripts/lib/ferretdb-gin.sql');
const ferretdbBin = existsSync(join(root, '.toolchain/bin/ferretdb')) ? join(root, '.toolchain/bin/ferretdb') : 'ferretdb';
const pg = { host: args['pg-host'], port: args['pg-port'], user: args['pg-user'] };
const basePort = 27117;

interface Config {
  name: string;
  label: string;
  /** The GIN indexes stay as the old start script made them (fastupdate on). */
  ginFastupdate: boolean;
  /** The B-tree indexes the driver's createIndexes makes for Herald's message indexes. */
  btree: boolean;
  syncCommitOff: boolean;
  customPlan: boolean;
  /** GIN expression indexes beyond the start script's (fields considered for it). */
  extraGin?: string[];
  /** FerretDB's connections to PostgreSQL: pgx's default `sslmode=prefer` (TLS) or `disable`. */
  pgTls: boolean;
  /** FerretDB's GOGC (Go's default is 100). */
  gogc: number;
}

// (a) FerretDB with the old start script (GIN fastupdate on) and createIndex's B-trees;
// (b) what the scripts apply now; (c) one change at a time on top of (a) — the default set;
// then, by name only: (b) with one change undone, and (b) plus a GIN index on tenant.
const a = { ginFastupdate: true, btree: true, syncCommitOff: false, customPlan: false, pgTls: true, gogc: 100 };
const b = { ginFastupdate: false, btree: false, syncCommitOff: true, customPlan: true, pgTls: false, gogc: 400 };
const allConfigs: (Config & { byDefault?: boolean })[] = [
  { name: 'before', label: '(a) defaults', ...a, byDefault: true },
  { name: 'after', label: '(b) scripts now', ...b, byDefault: true },
  { name: 'fastupdate', label: '(a) + fastupdate off', ...a, ginFastupdate: false, byDefault: true },
  { name: 'syncoff', label: '(a) + sync. commit off', ...a, syncCommitOff: true, byDefault: true },
  { name: 'customplan', label: '(a) + custom plans', ...a, customPlan: true, byDefault: true },
  { name: 'nobtree', label: '(a) − B-trees', ...a, btree: false, byDefault: true },
  { name: 'b_fastupdate', label: '(b) but fastupdate on', ...b, ginFastupdate: true },
  { name: 'b_synccommit', label: '(b) but sync. commit on', ...b, syncCommitOff: false },
  { name: 'b_genericplan', label: '(b) but generic plans', ...b, customPlan: false },
  { name: 'b_btree', label: '(b) + B-trees', ...b, btree: true },
  { name: 'b_tenantgin', label: '(b) + GIN on tenant', ...b, extraGin: ['tenant'] },
  { name: 'b_tls', label: '(b) but TLS to PostgreSQL', ...b, pgTls: true },
  { name: 'b_gogc', label: '(b) but GOGC 100', ...b, gogc: 100 },
  { name: 'b_process', label: '(b) but TLS and GOGC 100', ...b, pgTls: true, gogc: 100 },
];
const configs = args.configs
  ? args.configs.split(',').map((n) => {
      const c = allConfigs.find((c) => c.name === n);
      if (!c) throw new Error(`no configuration ${n}; known: ${allConfigs.map((c) => c.name).join(',')}`);
      return c;
    })
  : allConfigs.filter((c) => c.byDefault);
if (configs.length === 0) throw new Error(`--configs names none of ${allConfigs.map((c) => c.name).join(',')}`);

// Herald's message indexes (packages/shared/src/db/collections.ts, messageIndexes).
const messageIndexes: IndexDescription[] = [
  { key: { tenant: 1, created_at: -1 }, name: 'tenant_created' },
  { key: { phone: 1, created_at: -1 }, name: 'phone_created' },
  { key: { reference_id: 1 }, name: 'reference_id' },
  { key: { status: 1, created_at: 1 }, name: 'status_created' },
  { key: { provider_message_id: 1 }, name: 'provider_message_id' },
  { key: { day: 1 }, name: 'day' },
];

// --- PostgreSQL through psql -------------------------------------------------------------------

function psql(db: string, sql: string | { file: string }): string {
  const argv = ['-h', pg.host, '-p', pg.port, '-U', pg.user, '-v', 'ON_ERROR_STOP=1', '-qAtX', '-d', db];
  argv.push(...(typeof sql === 'string' ? ['-c', sql] : ['-f', sql.file]));
  const r = spawnSync('psql', argv, { encoding: 'utf8', env: { ...process.env, PGOPTIONS: '-c client_min_messages=warning' } });
  if (r.status !== 0) throw new Error(`psql ${db}: ${r.stderr || r.error}`);
  return r.stdout.trim();
}

const liveDbs = new Set<string>();
/** Set on a signal: nothing new is created while the cleanup runs. */
let stopping = false;
const liveProcs = new Set<ChildProcess>();
const stateDirs = new Set<string>();

function createDb(db: string, template?: string) {
  if (stopping) throw new Error('stopping');
  dropDb(db);
  liveDbs.add(db);
  // A stopped FerretDB's connections may take a moment to leave the template.
  for (let i = 0; ; i++) {
    try {
      psql('postgres', `CREATE DATABASE ${db}${template ? ` TEMPLATE ${template}` : ''}`);
      return;
    } catch (e) {
      if (i >= 50 || !String(e).includes('is being accessed by other users')) throw e;
      spawnSync('sleep', ['0.2']);
    }
  }
}

function dropDb(db: string) {
  if (!/^ferretdb_bench_[a-z0-9_]+$/.test(db)) throw new Error(`refusing to drop ${db}`);
  psql('postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  liveDbs.delete(db);
}

async function cleanup() {
  await Promise.all([...liveProcs].map(stopProc));
  for (const db of [...liveDbs]) {
    try {
      dropDb(db);
    } catch (e) {
      console.error(String(e));
    }
  }
  for (const d of stateDirs) rmSync(d, { recursive: true, force: true });
  stateDirs.clear();
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    console.error(`\n${sig}: stopping the bench's FerretDB and dropping its databases`);
    stopping = true;
    void cleanup().finally(() => process.exit(130));
  });
}

// --- FerretDB ----------------------------------------------------------------------------------

async function startFerretDB(db: string, port: number, runAs: { pgTls: boolean; gogc: number } = a): Promise<ChildProcess> {
  if (stopping) throw new Error('stopping');
  const stateDir = mkdtempSync(join(tmpdir(), 'ferretdb-bench-'));
  stateDirs.add(stateDir);
  // Above the clients (an update holds two connections, so a pool no larger than the clients can
  // hang FerretDB), and small: PostgreSQL's 100 connections are shared with the scripts' FerretDB.
  const pool = args.pool ? Number(args.pool) : clients + 4;
  const proc = spawn(
    ferretdbBin,
    [
      '--handler=postgresql',
      `--postgresql-url=postgres://${pg.user}@${pg.host}:${pg.port}/${db}?pool_max_conns=${pool}${runAs.pgTls ? '' : '&sslmode=disable'}`,
      `--listen-addr=127.0.0.1:${port}`,
      '--telemetry=disable',
      '--debug-addr=-',
      '--log-level=ERROR',
      `--state-dir=${stateDir}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, GOGC: String(runAs.gogc) } },
  );
  liveProcs.add(proc);
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  proc.once('exit', () => liveProcs.delete(proc));
  for (let i = 0; i < 100; i++) {
    if (proc.exitCode !== null) throw new Error(`FerretDB exited: ${stderr}`);
    const client = new MongoClient(`mongodb://127.0.0.1:${port}/`, { serverSelectionTimeoutMS: 200, directConnection: true });
    try {
      await client.connect();
      await client.db('admin').command({ ping: 1 });
      return proc;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      await client.close().catch(() => {});
    }
  }
  throw new Error(`FerretDB did not answer on 127.0.0.1:${port}: ${stderr}`);
}

async function stopProc(proc: ChildProcess) {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await exited;
}

function connect(port: number): MongoClient {
  return new MongoClient(`mongodb://127.0.0.1:${port}/`, {
    maxPoolSize: clients,
    retryWrites: false,
    directConnection: true,
    serverSelectionTimeoutMS: 5000,
  });
}

// --- Herald-shaped documents (packages/shared MessageDocument, newMessageDocument) -------------

const crockford = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
function ulidLike(ms: number): string {
  let t = '';
  for (let i = 0, v = ms; i < 10; i++, v = Math.floor(v / 32)) t = crockford[v % 32] + t;
  const rnd = randomBytes(16);
  let r = '';
  for (let i = 0; i < 16; i++) r += crockford[(rnd[i] ?? 0) % 32];
  return t + r;
}
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)] as T;
const bigTenants = ['acme', 'globex', 'initech', 'umbrella'] as const;
/** 0.2 % of the messages: its history page is the lookup no index serves. */
const smallTenant = 'hooli';
const types = ['order_confirmation', 'delivery_reminder', 'otp', 'payment_due'] as const;
const dayMs = 86_400_000;
const now = Date.now();

interface Ids {
  _id: string[];
  provider_message_id: string[];
}

interface MessageEvent {
  status: string;
  at: string;
  source: string;
  attempt: number | null;
  detail: string | null;
}
/** A message as the bench stores it. */
type Message = ReturnType<typeof messageDoc>;

function messageDoc(ids?: Ids) {
  const created = new Date(now - Math.floor(Math.random() * 30 * dayMs));
  const queued = new Date(created.getTime() + 5);
  const sent = new Date(created.getTime() + 300 + Math.floor(Math.random() * 500));
  const delivered = new Date(sent.getTime() + 1500);
  const id = `msg_${ulidLike(created.getTime())}`;
  const pmid = `wamid.HBgM${randomBytes(18).toString('base64url')}`;
  ids?._id.push(id);
  ids?.provider_message_id.push(pmid);
  const status = pick(['sent', 'delivered', 'delivered', 'read'] as const);
  const ev = (s: string, at: Date, source: string, attempt: number | null, detail: string | null): MessageEvent => ({
    status: s,
    at: at.toISOString(),
    source,
    attempt,
    detail,
  });
  return {
    _id: id,
    tenant: Math.random() < 0.002 ? smallTenant : pick(bigTenants),
    phone: `+9198${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`,
    message_type: pick(types),
    context: { customer_name: 'Asha', order_id: `A-${Math.floor(Math.random() * 1e6)}`, delivery_date: '2026-02-01', amount: '1499.00' },
    reference_id: Math.random() < 0.7 ? `order_${Math.floor(Math.random() * 1e7)}` : null,
    status,
    message_text: `Hi Asha, your order is confirmed. Reference ${id.slice(-8)}.`,
    template_version: 1,
    provider: 'meta',
    provider_message_id: pmid,
    idempotency_key: null,
    callback_url: null,
    request_id: randomBytes(8).toString('hex'),
    created_at: created,
    day: created.toISOString().slice(0, 10),
    send_at: null,
    expires_at: null,
    queued_at: queued,
    sent_at: sent,
    delivered_at: status === 'sent' ? null : delivered,
    read_at: status === 'read' ? new Date(delivered.getTime() + 60_000) : null,
    failed_at: null,
    attempts: 1,
    error: null,
    events: [
      ev('queued', queued, 'api', null, null),
      ev('sent', sent, 'worker', 1, `accepted by meta as ${pmid}`),
      ...(status === 'sent' ? [] : [ev('delivered', delivered, 'webhook', null, null)]),
    ],
    event_keys: status === 'sent' ? [] : [`delivered:${Math.floor(delivered.getTime() / 1000)}`],
    queued_to_sent_ms: sent.getTime() - queued.getTime(),
    queued_to_sent_bucket: 1000,
  };
}

// --- seeding -----------------------------------------------------------------------------------

const seedDb = (size: number, btree = false) => `ferretdb_bench_seed_${size}${btree ? '_btree' : ''}`;
const sql = {
  table: `SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname = 'herald' AND tablename LIKE 'notifications\\_log\\_%'`,
  gin: (table: string) =>
    `SELECT i.indexrelid::regclass FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam WHERE i.indrelid = '${table}'::regclass AND a.amname = 'gin'`,
  pending: (table: string) =>
    `SELECT coalesce(sum((pgstatginindex(i.indexrelid)).pending_pages), 0) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam WHERE i.indrelid = '${table}'::regclass AND a.amname = 'gin'`,
};

/** Loads one seed database per size, each a copy of the previous one topped up. */
async function seed(): Promise<Map<number, Ids>> {
  const idsBySize = new Map<number, Ids>();
  const ids: Ids = { _id: [], provider_message_id: [] };
  let previous: string | undefined;
  for (const size of sizes) {
    const db = seedDb(size);
    createDb(db, previous);
    if (!previous) {
      psql(db, { file: ginSql });
      psql(db, 'CREATE EXTENSION IF NOT EXISTS pgstattuple');
    }
    const t0 = performance.now();
    const proc = await startFerretDB(db, basePort);
    const client = connect(basePort);
    try {
      await client.connect();
      const coll = client.db('herald').collection<Message>('notifications_log');
      if (!previous) {
        await client.db('herald').createCollection('notifications_log');
        // The GIN indexes as the start script used to make them.
        const table = psql(db, sql.table);
        for (const idx of psql(db, sql.gin(table)).split('\n')) psql(db, `ALTER INDEX ${idx} SET (fastupdate = on)`);
      }
      let have = ids._id.length;
      while (have < size) {
        const batches: Message[][] = [];
        for (let i = 0; i < 4 && have < size; i++) {
          const n = Math.min(1000, size - have);
          batches.push(Array.from({ length: n }, () => messageDoc(ids)));
          have += n;
        }
        await Promise.all(batches.map((b) => coll.insertMany(b)));
      }
      if ((await coll.estimatedDocumentCount()) !== size) throw new Error(`seed ${db} does not hold ${size} messages`);
    } finally {
      await client.close().catch(() => {});
      await stopProc(proc);
    }
    console.error(`seed: ${size} messages in ${db} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    idsBySize.set(size, { _id: [...ids._id], provider_message_id: [...ids.provider_message_id] });
    previous = db;
  }
  // The same with the B-tree indexes createIndexes makes, built once for the configurations that
  // have them.
  if (configs.some((c) => c.btree)) {
    for (const size of sizes) {
      createDb(seedDb(size, true), seedDb(size));
      const proc = await startFerretDB(seedDb(size, true), basePort);
      const client = connect(basePort);
      try {
        await client.connect();
        await client.db('herald').collection('notifications_log').createIndexes(messageIndexes);
      } finally {
        await client.close().catch(() => {});
        await stopProc(proc);
      }
    }
  }
  return idsBySize;
}

// --- measuring ---------------------------------------------------------------------------------

/**
 * CPU seconds used so far by FerretDB and by the PostgreSQL backends of its database (from /proc;
 * PostgreSQL's background writers are not counted). Unlike a rate, this hardly moves when other
 * work shares the machine.
 */
function serverCpu(db: string, ferretdb: ChildProcess): number {
  const pids = [ferretdb.pid, ...psql('postgres', `SELECT pid FROM pg_stat_activity WHERE datname = '${db}'`).split('\n').map(Number)];
  let ticks = 0;
  for (const pid of pids) {
    if (!pid) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      // gone, or no /proc: counted as nothing
    }
  }
  return ticks / clockTicks;
}
const clockTicks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/**
 * Whether serverCpu sees all of an operation's CPU. Not for the history page: PostgreSQL may scan
 * for it with a parallel worker, a process that comes and goes between two readings (it does
 * where no index build ever recorded the table's size, i.e. without the B-tree indexes).
 */
const cpuCounted = (op: string) => !op.startsWith('history');

interface Measured {
  /** Operations (or documents) per second. */
  rate: number;
  /** Server CPU milliseconds per operation (or document). */
  cpuMs: number;
}

/** Runs `op` in `clients` concurrent loops for phaseMs; `op` returns the units it did. */
async function measure(op: () => Promise<number>, cpu: () => number): Promise<Measured> {
  const cpu0 = cpu();
  const start = performance.now();
  const end = start + phaseMs;
  let units = 0;
  let failure: unknown;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end && failure === undefined) {
        try {
          // Not `units += await op()`: that reads `units` before the await and loses the other
          // loops' counts.
          const done = await op();
          units += done;
        } catch (e) {
          failure = e;
        }
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  if (failure !== undefined) throw failure;
  return { rate: units / seconds, cpuMs: ((cpu() - cpu0) * 1000) / units };
}

const operations = [
  'history page (small tenant)',
  'find by _id',
  'find by provider_message_id',
  'updateOne by _id',
  'findOneAndUpdate by _id',
  'insertOne',
  'insertMany ×100 (docs/s)',
] as const;
type Operation = (typeof operations)[number];
type Row = Partial<Record<Operation, Measured>>;
const wanted = (op: Operation) => !args.ops || args.ops.split(',').some((p) => op.startsWith(p));

function operationsOn(coll: Collection<Message>, ids: Ids): Record<Operation, () => Promise<number>> {
  const since = new Date(now - 7 * dayMs);
  const event = (): MessageEvent => ({ status: 'read', at: new Date().toISOString(), source: 'webhook', attempt: null, detail: null });
  const found = (what: string) => (doc: unknown) => {
    if (!doc) throw new Error(`${what} found nothing`);
    return 1;
  };
  return {
    'history page (small tenant)': async () => {
      const filter = { tenant: smallTenant, created_at: { $gte: since, $lte: new Date() } };
      await Promise.all([coll.find(filter).sort({ created_at: -1, _id: -1 }).limit(50).toArray(), coll.countDocuments(filter)]);
      return 1;
    },
    'find by _id': () => coll.findOne({ _id: pick(ids._id) }).then(found('find by _id')),
    'find by provider_message_id': () =>
      coll.findOne({ provider_message_id: pick(ids.provider_message_id) }).then(found('find by provider_message_id')),
    'updateOne by _id': async () => {
      const r = await coll.updateOne({ _id: pick(ids._id) }, { $set: { status: 'read', read_at: new Date() }, $push: { events: event() } });
      if (r.matchedCount !== 1) throw new Error('updateOne matched nothing');
      return 1;
    },
    'findOneAndUpdate by _id': () =>
      coll
        .findOneAndUpdate(
          { _id: pick(ids._id) },
          { $set: { status: 'read', read_at: new Date() }, $inc: { attempts: 1 }, $push: { events: event() } },
          { returnDocument: 'before' },
        )
        .then(found('findOneAndUpdate')),
    insertOne: async () => {
      await coll.insertOne(messageDoc());
      return 1;
    },
    'insertMany ×100 (docs/s)': async () => {
      await coll.insertMany(Array.from({ length: 100 }, () => messageDoc()));
      return 100;
    },
  };
}

async function runConfig(c: Config, size: number, ids: Ids, port: number): Promise<Row> {
  const db = `ferretdb_bench_${c.name}`;
  const t0 = performance.now();
  createDb(db, seedDb(size, c.btree));
  const row: Row = {};
  try {
    const table = psql(db, sql.table);
    if (!c.ginFastupdate) psql(db, { file: ginSql });
    for (const f of c.extraGin ?? []) {
      psql(db, `CREATE INDEX ON ${table} USING gin ((_jsonb -> '${f}') jsonb_path_ops) WITH (fastupdate = off)`);
    }
    if (c.syncCommitOff) psql(db, `ALTER DATABASE ${db} SET synchronous_commit = off`);
    if (c.customPlan) psql(db, `ALTER DATABASE ${db} SET plan_cache_mode = force_custom_plan`);
    const proc = await startFerretDB(db, port, c);
    const client = connect(port);
    try {
      await client.connect();
      const coll = client.db('herald').collection<Message>('notifications_log');
      const indexes = psql(db, `SELECT count(*) FROM pg_index WHERE indrelid = '${table}'::regclass`);
      const pendingBefore = psql(db, sql.pending(table));
      const setup = (performance.now() - t0) / 1000;
      const ops = operationsOn(coll, ids);
      for (const op of operations) if (wanted(op)) row[op] = await measure(ops[op], () => serverCpu(db, proc));
      console.error(
        `[${c.name} @ ${size}] ${indexes} indexes, GIN pending pages ${pendingBefore} → ${psql(db, sql.pending(table))}, set up in ${setup.toFixed(1)} s: ` +
          operations
            .filter(wanted)
            .map((o) => `${o} ${fmt(row[o]?.rate)}/s${cpuCounted(o) ? ` ${fmt(row[o]?.cpuMs, 2)} ms` : ''}`)
            .join(', '),
      );
    } finally {
      await client.close().catch(() => {});
      await stopProc(proc);
    }
  } finally {
    dropDb(db);
  }
  return row;
}

const fmt = (v: number | undefined, digits = 1) =>
  v === undefined || !Number.isFinite(v) ? '–' : v >= 100 ? String(Math.round(v)) : v.toFixed(digits);

// --- main --------------------------------------------------------------------------------------

const started = performance.now();
/** Per configuration and size, every repetition's row. */
const results = new Map<string, Map<number, Row[]>>();
try {
  console.error(`FerretDB ${spawnSync(ferretdbBin, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0]?.replace('version: ', '')}`);
  console.error(`PostgreSQL ${psql('postgres', 'SHOW server_version')}, autovacuum ${psql('postgres', 'SHOW autovacuum')}`);
  const idsBySize = await seed();
  // Repetitions interleave the configurations, so a busy spell of the machine hits them alike.
  for (let r = 0; r < repeat; r++) {
    for (const size of sizes) {
      for (const [i, c] of configs.entries()) {
        const row = await runConfig(c, size, idsBySize.get(size) as Ids, basePort + 1 + i);
        const bySize = results.get(c.name) ?? new Map<number, Row[]>();
        results.set(c.name, bySize.set(size, [...(bySize.get(size) ?? []), row]));
      }
    }
  }
} catch (e) {
  // After a signal, the failures of the operations cut short say nothing: the handler exits.
  if (stopping) await new Promise(() => {});
  console.error(e);
  await cleanup();
  process.exit(1);
}
await cleanup();

/** The best of the repetitions: what the machine does when the others leave it alone. */
const best = (rows: Row[] | undefined, op: Operation, key: keyof Measured) => {
  const vs = (rows ?? []).map((r) => r[op]?.[key]).filter((v): v is number => v !== undefined && Number.isFinite(v));
  return vs.length === 0 ? undefined : key === 'rate' ? Math.max(...vs) : Math.min(...vs);
};
function table(title: string, key: keyof Measured, digits: number): string {
  const lines = [`| ${title} | messages | ${configs.map((c) => c.label).join(' | ')} |`, `|---|--:|${configs.map(() => '--:').join('|')}|`];
  for (const op of operations.filter(wanted).filter((o) => key === 'rate' || cpuCounted(o))) {
    for (const size of sizes) {
      const cells = configs.map((c) => fmt(best(results.get(c.name)?.get(size), op, key), digits));
      lines.push(`| ${op} | ${size.toLocaleString('en')} | ${cells.join(' | ')} |`);
    }
  }
  return lines.join('\n');
}
const of = repeat > 1 ? `, best of ${repeat}` : '';
console.log(table(`${clients} clients, per second${of}`, 'rate', 1));
console.log();
console.log(table(`server CPU ms per operation${of}`, 'cpuMs', 2));
console.error(
  `(${((performance.now() - started) / 1000).toFixed(0)} s; ${phaseMs / 1000} s per measurement; load average at the end ${loadavg()
    .map((l) => l.toFixed(1))
    .join(', ')})`,
);
