import { type Collection, type Db, type Document, type IndexDescription, MongoClient, MongoServerError } from 'mongodb';
import type { Context, MessageEvent, MessageStatus } from '../schemas/message.ts';
import { DailyStats, type DailyStatsDocument, ensureDailyStats } from '../stats/daily-stats.ts';
import { defaultTemplates, type TemplateDocument } from '../templates/defaults.ts';

/** Collection names from the original contract (SPEC 6); renaming one strands its data. */
export const collectionNames = {
  templates: 'notification_templates',
  templateVersions: 'notification_template_versions',
  messages: 'notifications_log',
  settings: 'notification_settings',
  /** Status events whose provider id never matched a message, kept for inspection. */
  orphans: 'webhook_orphans',
  /** Per tenant, day and type: counts by status and latency sums and buckets (statistics). */
  dailyStats: 'notification_stats_daily',
} as const;

export interface MessageError {
  code: string;
  message: string;
  retryable: boolean;
}

/** A message as stored in `notifications_log`. */
export interface MessageDocument {
  _id: string;
  tenant: string;
  phone: string;
  message_type: string;
  context: Context;
  reference_id: string | null;
  status: MessageStatus;
  message_text: string | null;
  template_version: number | null;
  provider: string;
  provider_message_id: string | null;
  idempotency_key: string | null;
  callback_url: string | null;
  request_id: string | null;
  created_at: Date;
  /** UTC day of created_at, `YYYY-MM-DD`: statistics group on it without date operators. */
  day: string;
  send_at: Date | null;
  expires_at: Date | null;
  queued_at: Date | null;
  sent_at: Date | null;
  delivered_at: Date | null;
  read_at: Date | null;
  failed_at: Date | null;
  attempts: number;
  error: MessageError | null;
  events: MessageEvent[];
  /** `status:providerTimestamp` of every applied provider event: a repeat adds nothing. */
  event_keys: string[];
  /** Latency spans in ms and their bucket edge, stored when the span ends (SPEC 2.2). */
  queued_to_sent_ms?: number;
  queued_to_sent_bucket?: number;
  sent_to_delivered_ms?: number;
  sent_to_delivered_bucket?: number;
}

export interface SettingsDocument {
  _id: string; // E.164 phone
  opted_out: boolean;
  disabled_types: string[];
  updated_at: Date;
  source: string;
}

export interface TemplateVersionDocument extends Omit<TemplateDocument, '_id'> {
  _id: string; // `${type}:${version}`
}

export interface OrphanDocument {
  _id: string;
  provider: string;
  event: unknown;
  received_at: Date;
  kept_at: Date;
}

export interface Collections {
  db: Db;
  templates: Collection<TemplateDocument>;
  templateVersions: Collection<TemplateVersionDocument>;
  messages: Collection<MessageDocument>;
  settings: Collection<SettingsDocument>;
  orphans: Collection<OrphanDocument>;
  dailyStats: Collection<DailyStatsDocument>;
  /** Applies counter changes after message writes (see DailyStats). */
  stats: DailyStats;
}

export function collections(db: Db): Collections {
  const dailyStats = db.collection<DailyStatsDocument>(collectionNames.dailyStats);
  return {
    db,
    templates: db.collection<TemplateDocument>(collectionNames.templates),
    templateVersions: db.collection<TemplateVersionDocument>(collectionNames.templateVersions),
    messages: db.collection<MessageDocument>(collectionNames.messages),
    settings: db.collection<SettingsDocument>(collectionNames.settings),
    orphans: db.collection<OrphanDocument>(collectionNames.orphans),
    dailyStats,
    stats: new DailyStats(dailyStats),
  };
}

/**
 * A short server-selection timeout turns an outage into a quick error (and a 503), not a hang.
 */
export async function connectMongo(url: string): Promise<MongoClient> {
  const client = new MongoClient(url, {
    serverSelectionTimeoutMS: 2000,
    connectTimeoutMS: 2000,
    // FerretDB turns each operation into PostgreSQL work on a bounded pool, and an update holds
    // two of its connections at once (the query, then the write): when every pooled connection
    // is held by an update waiting for its second, FerretDB 1.24 hangs for good. Keep the sum of
    // all processes' client pools below FerretDB's pool (`pool_max_conns`). A `maxPoolSize` in
    // MONGO_URL wins over this default (the tests use a small one).
    ...(/[?&]maxPoolSize=/i.test(url) ? {} : { maxPoolSize: 20 }),
    // FerretDB has no retryable-writes support; plain writes are retried by the queue instead.
    retryWrites: false,
  });
  await client.connect();
  return client;
}

const messageIndexes: IndexDescription[] = [
  { key: { tenant: 1, created_at: -1 }, name: 'tenant_created' },
  { key: { phone: 1, created_at: -1 }, name: 'phone_created' },
  { key: { reference_id: 1 }, name: 'reference_id' },
  { key: { status: 1, created_at: 1 }, name: 'status_created' },
  { key: { provider_message_id: 1 }, name: 'provider_message_id' },
  { key: { day: 1 }, name: 'day' },
];

/**
 * Creates the indexes a collection lacks, by name. Only missing ones are sent: FerretDB 1.24
 * drops the connection when createIndexes names indexes that already exist, and MongoDB would
 * do nothing with them anyway. No TTL, partial or sparse indexes: FerretDB has none.
 */
async function createMissingIndexes(collection: Collection<Document>, wanted: IndexDescription[]): Promise<void> {
  const existing = new Set(
    await collection
      .listIndexes()
      .toArray()
      .then((list) => list.map((i) => i.name as string))
      .catch((err) => {
        if (err instanceof MongoServerError && err.code === 26) return [] as string[]; // no collection yet
        throw err;
      }),
  );
  const missing = wanted.filter((i) => !existing.has(i.name as string));
  if (missing.length === 0) return;
  await collection.createIndexes(missing);
}

/**
 * Two processes starting on a fresh database race to create the same collections and indexes;
 * FerretDB answers the loser by closing its connection. Whatever the error, look again: if the
 * other process made them, all is well.
 */
async function withRetries(what: () => Promise<void>, attempts = 4): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      return await what();
    } catch (err) {
      if (i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 150 * i));
    }
  }
}

/**
 * Creates every collection up front: on FerretDB creating one is DDL that takes a global lock,
 * better done at start than in the middle of traffic (e.g. the first orphan event).
 */
async function createMissingCollections(c: Collections): Promise<void> {
  const existing = new Set((await c.db.listCollections({}, { nameOnly: true }).toArray()).map((x) => x.name));
  for (const name of Object.values(collectionNames)) {
    if (existing.has(name)) continue;
    try {
      await c.db.createCollection(name);
    } catch (err) {
      if (!(err instanceof MongoServerError && err.code === 48)) throw err; // 48: already exists
    }
  }
}

/** Indexes of SPEC 6, ensured by every process at start. */
export async function ensureIndexes(c: Collections): Promise<void> {
  await withRetries(() => createMissingCollections(c));
  await withRetries(() => createMissingIndexes(c.messages as unknown as Collection<Document>, messageIndexes));
  await withRetries(() =>
    createMissingIndexes(c.templateVersions as unknown as Collection<Document>, [{ key: { type: 1, version: -1 }, name: 'type_version' }]),
  );
  await withRetries(() => createMissingIndexes(c.dailyStats as unknown as Collection<Document>, [{ key: { day: 1 }, name: 'day' }]));
}

const isDuplicateKey = (err: unknown) => err instanceof MongoServerError && err.code === 11000;

/**
 * Installs the default templates where absent. `$setOnInsert` never touches an existing one, so
 * an admin's edits survive every restart; two processes starting at once may race to the same
 * insert, and the loser's duplicate-key error means the template is there.
 */
export async function ensureDefaultTemplates(c: Collections, now = new Date()): Promise<void> {
  for (const t of defaultTemplates) {
    const doc: TemplateDocument = {
      _id: t.type,
      type: t.type,
      content: t.content,
      active: true,
      version: 1,
      variables: [...t.variables],
      category: t.category,
      providers: {},
      updated_at: now,
      updated_by: 'system',
    };
    const { _id, ...rest } = doc;
    try {
      await c.templates.updateOne({ _id }, { $setOnInsert: rest }, { upsert: true });
      await c.templateVersions.updateOne({ _id: `${t.type}:1` }, { $setOnInsert: rest }, { upsert: true });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
  }
}

/** Everything a process needs of MongoDB at start: indexes and the default templates. */
export async function prepareDatabase(c: Collections): Promise<void> {
  await ensureIndexes(c);
  await ensureDefaultTemplates(c);
  await withRetries(() => ensureDailyStats(c.messages, c.stats));
}
