import type {
  MessageDocument,
  ProviderTemplateDocument,
  RedisConnection,
  SenderDocument,
  SettingsDocument,
  TemplateDocument,
  TemplateVersionDocument,
} from '@herald/shared';
import { type Collection, type Db, type Document, type IndexDescription, MongoClient, MongoServerError } from 'mongodb';
import { MessageStore } from './messages.ts';
import { type OrphanDocument, OrphanStore } from './orphans.ts';
import { detectProfile } from './profiles/detect.ts';
import type { ServerProfile } from './profiles/profile.ts';
import { ProviderTemplateStore } from './provider-templates.ts';
import { SenderStore } from './senders.ts';
import { SettingsStore } from './settings.ts';
import { StatisticsStore } from './statistics.ts';
import { DailyStats, type DailyStatsDocument, ensureDailyStats } from './stats.ts';
import { TemplateRepository } from './templates.ts';

/** Collection names from the original contract (SPEC 6); renaming one strands its data. */
const names = {
  templates: 'notification_templates',
  templateVersions: 'notification_template_versions',
  messages: 'notifications_log',
  settings: 'notification_settings',
  /** Status events whose provider id never matched a message, kept for inspection. */
  orphans: 'webhook_orphans',
  /** Per tenant, day and type: counts by status and latency sums and buckets (statistics). */
  dailyStats: 'notification_stats_daily',
  /** Each provider template's status, quality and last sync (Meta's, per name and language). */
  providerTemplates: 'provider_templates',
  /** Tenants' senders (issue 13): identifiers in the clear, credentials and webhook secrets sealed. */
  senders: 'senders',
} as const;

/** SPEC 6's indexes. Created where the profile says B-tree indexes serve the server. */
const indexes: Partial<Record<keyof typeof names, IndexDescription[]>> = {
  messages: [
    { key: { tenant: 1, created_at: -1 }, name: 'tenant_created' },
    { key: { phone: 1, created_at: -1 }, name: 'phone_created' },
    { key: { reference_id: 1 }, name: 'reference_id' },
    { key: { status: 1, created_at: 1 }, name: 'status_created' },
    { key: { provider_message_id: 1 }, name: 'provider_message_id' },
    { key: { day: 1 }, name: 'day' },
  ],
  templateVersions: [{ key: { type: 1, version: -1 }, name: 'type_version' }],
  dailyStats: [{ key: { day: 1 }, name: 'day' }],
  orphans: [{ key: { recipients: 1 }, name: 'recipients' }],
  // Webhooks find their sender by the number or account they name (SenderStore.byIdentifier).
  senders: [
    { key: { 'identifiers.phone_number_id': 1 }, name: 'phone_number_id', sparse: true },
    { key: { 'identifiers.account_sid': 1 }, name: 'account_sid', sparse: true },
    { key: { 'identifiers.company_id': 1 }, name: 'company_id', sparse: true },
  ],
};

export interface StoreOptions {
  /** `mongodb://…/database`. */
  url: string;
  /**
   * Redis for the locks a server without atomic single-document updates needs (FerretDB), and
   * the prefix of their keys (the queue prefix, so Redis Cluster keeps them in one slot).
   */
  locks?: { redis: RedisConnection; prefix: string };
  /** Where failures of background work (statistics counters) are reported. */
  onError?: (err: unknown, what: string) => void;
  /**
   * The server profile to use instead of detecting it: the conformance suite runs every operation
   * under each profile against the one server CI has. Production never sets it.
   */
  profile?: ServerProfile;
}

/** Herald's storage: one object per aggregate, named for what callers do. */
export interface Store {
  readonly profile: ServerProfile['name'];
  readonly messages: MessageStore;
  readonly settings: SettingsStore;
  readonly templates: TemplateRepository;
  /** The providers' own templates as last synced or announced by webhook. */
  readonly providerTemplates: ProviderTemplateStore;
  readonly orphans: OrphanStore;
  readonly statistics: StatisticsStore;
  readonly senders: SenderStore;
  /**
   * Where any of `needles` still appears, as `collection:_id` (every collection, every field,
   * stored payloads included): the check after erasing a person. Reads every document: an
   * operator's audit, not a hot path.
   */
  mentions(needles: string[]): Promise<string[]>;
  /** Resolves when the server answers (readiness). */
  ping(): Promise<void>;
  /** Writes what is pending (statistics counters), then closes the client. */
  close(): Promise<void>;
  /** Drops the whole database (tests and benches clean up with it). */
  drop(): Promise<void>;
}

/**
 * Connects, detects the server, and prepares the database: collections, indexes, default
 * templates and the statistics counters of an older database. Every process calls it at start.
 * A short server-selection timeout turns an outage into a quick error (a 503), not a hang.
 */
export async function connectStore(opts: StoreOptions): Promise<Store> {
  const base = { serverSelectionTimeoutMS: 2000, connectTimeoutMS: 2000 };
  let client = new MongoClient(opts.url, base);
  await client.connect();
  const locks = opts.locks;
  const profile = opts.profile ?? (await detectProfile(client.db(), locks));
  const extra = profile.clientOptions(opts.url);
  if (Object.keys(extra).length > 0) {
    await client.close();
    client = new MongoClient(opts.url, { ...base, ...extra });
    await client.connect();
  }
  try {
    return await openStore(client, profile, opts.onError ?? (() => {}));
  } catch (err) {
    await client.close().catch(() => undefined);
    throw err;
  }
}

async function openStore(client: MongoClient, profile: ServerProfile, onError: (err: unknown, what: string) => void): Promise<Store> {
  const db = client.db();
  const c = {
    templates: db.collection<TemplateDocument>(names.templates),
    templateVersions: db.collection<TemplateVersionDocument>(names.templateVersions),
    messages: db.collection<MessageDocument>(names.messages),
    settings: db.collection<SettingsDocument>(names.settings),
    orphans: db.collection<OrphanDocument>(names.orphans),
    dailyStats: db.collection<DailyStatsDocument>(names.dailyStats),
    providerTemplates: db.collection<ProviderTemplateDocument>(names.providerTemplates),
    senders: db.collection<SenderDocument>(names.senders),
  };
  const stats = new DailyStats(c.dailyStats, profile);
  stats.onError = (err) => onError(err, 'statistics counters not updated; `pnpm stats:rebuild` repairs them');
  const store: Store = {
    profile: profile.name,
    messages: new MessageStore(c.messages, profile, stats),
    settings: new SettingsStore(c.settings),
    templates: new TemplateRepository(c.templates, c.templateVersions, profile),
    providerTemplates: new ProviderTemplateStore(c.providerTemplates, profile),
    orphans: new OrphanStore(c.orphans, profile),
    statistics: new StatisticsStore(c.messages, stats),
    senders: new SenderStore(c.senders, profile),
    async mentions(needles) {
      const found: string[] = [];
      for (const [key, collection] of Object.entries(c)) {
        for await (const doc of (collection as unknown as Collection<Document>).find({})) {
          const text = JSON.stringify(doc);
          if (needles.some((n) => text.includes(n))) found.push(`${names[key as keyof typeof names]}:${String(doc._id)}`);
        }
      }
      return found;
    },
    async ping() {
      await db.command({ ping: 1 });
    },
    async close() {
      await stats.idle();
      await client.close();
    },
    async drop() {
      await stats.idle();
      await db.dropDatabase();
    },
  };

  await withRetries(() => createMissingCollections(db));
  if (profile.btreeIndexes) {
    for (const [name, wanted] of Object.entries(indexes)) {
      await withRetries(() => createMissingIndexes(c[name as keyof typeof c] as unknown as Collection<Document>, wanted));
    }
  }
  await store.templates.ensureDefaults();
  await withRetries(() => ensureDailyStats(c.messages, stats));
  return store;
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
 * Creates every collection up front: creating one can be DDL that takes a global lock (FerretDB),
 * better done at start than in the middle of traffic (e.g. the first orphan event).
 */
async function createMissingCollections(db: Db): Promise<void> {
  const existing = new Set((await db.listCollections({}, { nameOnly: true }).toArray()).map((x) => x.name));
  for (const name of Object.values(names)) {
    if (existing.has(name)) continue;
    try {
      await db.createCollection(name);
    } catch (err) {
      if (!(err instanceof MongoServerError && err.code === 48)) throw err; // 48: already exists
    }
  }
}

/** Creates the indexes a collection lacks, by name (re-sending existing ones is refused by some servers). */
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
  if (missing.length > 0) await collection.createIndexes(missing);
}

/** Drops a whole database without preparing it first (tests and benches clean up with it). */
export async function dropDatabase(url: string): Promise<void> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 2000, connectTimeoutMS: 2000 });
  try {
    await client.connect();
    await client.db().dropDatabase();
  } finally {
    await client.close();
  }
}
