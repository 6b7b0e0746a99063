import {
  ENV_SENDER_ID,
  latencyBuckets,
  type MessageDocument,
  type MessageStatus,
  messageStatuses,
  statsCounterErrors,
} from '@herald/shared';
import type { Collection, Document } from 'mongodb';
import type { ServerProfile } from './profiles/profile.ts';

/**
 * Per-day counters for statistics (SPEC 2.2, SPEC 6 Portability): one document per tenant, UTC
 * day and message type, holding the number of messages in each status and, per latency span, the
 * count, the sum in ms and the count per bucket. Every write that creates, changes or removes a
 * message adds its difference with `$inc`, so 30-day statistics read a few hundred small
 * documents instead of aggregating every message — FerretDB 1.24 pushes no range filter and no
 * `$group` down to PostgreSQL, and took minutes over 200,000 messages.
 *
 * The counters are written right after the message, not with it (FerretDB has no transactions).
 * A process that dies between the two writes, or a database error on the second, leaves them one
 * message off: such errors are counted in `herald_stats_counter_errors_total`, and
 * `pnpm stats:rebuild` (`rebuildDailyStats`) recomputes them from the messages.
 */

export type LatencySpan = 'queued_to_sent' | 'sent_to_delivered';
export const latencySpans: readonly LatencySpan[] = ['queued_to_sent', 'sent_to_delivered'];

export interface LatencyCounters {
  /** Absent while every change to it summed to zero (zero increments are not written). */
  n?: number;
  sum_ms?: number;
  /** `b<edge>` for each bucket edge, `over` beyond the last (keys may not be numbers on FerretDB). */
  buckets?: Record<string, number>;
}

export interface DailyStatsDocument {
  _id: string;
  tenant: string;
  day: string;
  message_type: string;
  /** The sender (issue 13); absent on counters from before senders, which are all `env`'s. */
  sender?: string;
  by_status: Partial<Record<MessageStatus, number>>;
  queued_to_sent?: LatencyCounters;
  sent_to_delivered?: LatencyCounters;
}

/** What a message contributes to the counters. */
export type StatsView = Pick<MessageDocument, 'tenant' | 'day' | 'message_type' | 'status'> &
  Partial<Pick<MessageDocument, 'sender' | `${LatencySpan}_ms` | `${LatencySpan}_bucket`>>;

/**
 * The fields a find needs for a message's contribution. Not for findOneAndUpdate: FerretDB 1.24's
 * findAndModify refuses a projection (`fields` "is not implemented yet"), so the writes that need
 * the message as it was before them take the whole document.
 */
export const statsProjection = {
  tenant: 1,
  day: 1,
  message_type: 1,
  sender: 1,
  status: 1,
  queued_to_sent_ms: 1,
  queued_to_sent_bucket: 1,
  sent_to_delivered_ms: 1,
  sent_to_delivered_bucket: 1,
} as const;

/** One change of one message: absent `before` = created, absent `after` = removed. */
export interface StatsChange {
  before?: StatsView | null;
  after?: StatsView | null;
}

export const bucketKey = (bucket: number | null | undefined) => (bucket == null ? 'over' : `b${bucket}`);
type CounterKey = { tenant: string; day: string; message_type: string; sender: string };
/** The deployment sender's counters keep the ids they had before senders existed. */
const counterId = (k: CounterKey) => `${k.day}|${k.tenant}|${k.message_type}${k.sender === ENV_SENDER_ID ? '' : `|${k.sender}`}`;
const senderOf = (v: { sender?: string | null | undefined }) => v.sender ?? ENV_SENDER_ID;

interface Delta {
  key: CounterKey;
  inc: Map<string, number>;
}

function addContribution(deltas: Map<string, Delta>, v: StatsView, sign: 1 | -1): void {
  const key = { tenant: v.tenant, day: v.day, message_type: v.message_type, sender: senderOf(v) };
  const id = counterId(key);
  let d = deltas.get(id);
  if (!d) {
    d = { key, inc: new Map() };
    deltas.set(id, d);
  }
  const add = (path: string, n: number) => d.inc.set(path, (d.inc.get(path) ?? 0) + n);
  add(`by_status.${v.status}`, sign);
  for (const span of latencySpans) {
    const ms = v[`${span}_ms`];
    if (typeof ms !== 'number') continue;
    add(`${span}.n`, sign);
    add(`${span}.sum_ms`, sign * ms);
    add(`${span}.buckets.${bucketKey(v[`${span}_bucket`])}`, sign);
  }
}

/** The `$inc` per counter document that turns `changes` into counts; zero entries dropped. */
export function statsDeltas(changes: StatsChange[]): Map<string, { key: Delta['key']; inc: Record<string, number> }> {
  const deltas = new Map<string, Delta>();
  for (const c of changes) {
    if (c.before) addContribution(deltas, c.before, -1);
    if (c.after) addContribution(deltas, c.after, 1);
  }
  const out = new Map<string, { key: Delta['key']; inc: Record<string, number> }>();
  for (const [id, d] of deltas) {
    const inc = Object.fromEntries([...d.inc].filter(([, n]) => n !== 0));
    if (Object.keys(inc).length > 0) out.set(id, { key: d.key, inc });
  }
  return out;
}

/**
 * Applies counter changes. One write round at a time per process: every change that arrives while
 * a round is being written waits and is folded into the next one, so under load a process writes
 * about one `$inc` per counter document per round, however many messages changed (a first
 * version folded only changes of the same event-loop turn and cut the API's send-message rate
 * from ~1,000 to 293 req/s waiting on the lock). The server profile decides how a round's
 * increments are written (MongoDB: one bulkWrite; FerretDB: one locked update per counter).
 * Never rejects: an error is counted in `herald_stats_counter_errors_total` and handed to
 * `onError` (the process's logger).
 */
export class DailyStats {
  readonly collection: Collection<DailyStatsDocument>;
  readonly #profile: ServerProfile;
  #pending: StatsChange[] = [];
  #waiting: (() => void)[] = [];
  #round: Promise<void> | undefined;
  onError: (err: unknown) => void = () => {};

  constructor(collection: Collection<DailyStatsDocument>, profile: ServerProfile) {
    this.collection = collection;
    this.#profile = profile;
  }

  /** Takes changes for the next round without waiting for it (the send and webhook paths). */
  add(...changes: StatsChange[]): void {
    void this.record(...changes);
  }

  /** Resolves once these changes are written (or their write failed and was reported). */
  record(...changes: StatsChange[]): Promise<void> {
    if (changes.length === 0) return Promise.resolve();
    this.#pending.push(...changes);
    const written = new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#round ??= this.#writeRounds();
    return written;
  }

  /** Resolves when nothing is left to write (before the client closes). */
  async idle(): Promise<void> {
    while (this.#round) await this.#round;
  }

  async #writeRounds(): Promise<void> {
    try {
      while (this.#pending.length > 0) {
        // Let the changes of this turn of the event loop join the round.
        await new Promise((resolve) => setImmediate(resolve));
        const changes = this.#pending;
        const waiting = this.#waiting;
        this.#pending = [];
        this.#waiting = [];
        const ops = [...statsDeltas(changes)].map(([_id, { key, inc }]) => ({ _id, inc, setOnInsert: key }));
        try {
          await this.#profile.increment(this.collection as unknown as Collection<{ _id: string }>, ops);
        } catch (err) {
          statsCounterErrors.inc();
          this.onError(err);
        }
        for (const resolve of waiting) resolve();
      }
    } finally {
      this.#round = undefined;
    }
  }
}

/**
 * The counters of one day range (both ends included, `YYYY-MM-DD`), optionally of one tenant and
 * one sender (filtered here: a few hundred small documents, and counters from before senders
 * have no `sender` field).
 */
export async function readDailyStats(
  collection: Collection<DailyStatsDocument>,
  from: string,
  to: string,
  tenant?: string,
  sender?: string,
) {
  const docs = await collection.find({ day: { $gte: from, $lte: to }, ...(tenant === undefined ? {} : { tenant }) }).toArray();
  return sender === undefined ? docs : docs.filter((d) => senderOf(d) === sender);
}

/**
 * Recomputes every counter from the messages: the repair after a crash between a message write
 * and its counter write, and the first build on a database from before the counters. It
 * aggregates the whole collection (slow on FerretDB: minutes per few hundred thousand
 * messages); counts written meanwhile by running processes may be lost, so run it with sending
 * paused for exact figures. Only `$match`, `$group` with one `$sum` (all FerretDB computes
 * correctly) and `$exists`.
 */
export async function rebuildDailyStats(messages: Collection<MessageDocument>, stats: Collection<DailyStatsDocument>): Promise<number> {
  type Key = { tenant: string; day: string; message_type: string; sender?: string | null };
  const docs = new Map<string, DailyStatsDocument>();
  const docOf = (k: Key) => {
    const full = { tenant: k.tenant, day: k.day, message_type: k.message_type, sender: senderOf(k) };
    const id = counterId(full);
    let d = docs.get(id);
    if (!d) {
      d = { _id: id, ...full, by_status: {} };
      docs.set(id, d);
    }
    return d;
  };
  const key = { tenant: '$tenant', day: '$day', message_type: '$message_type', sender: '$sender' };

  const counts = await messages
    .aggregate<{ _id: Key & { status: MessageStatus }; n: number }>([{ $group: { _id: { ...key, status: '$status' }, n: { $sum: 1 } } }])
    .toArray();
  for (const c of counts) {
    if (!messageStatuses.includes(c._id.status)) continue;
    docOf(c._id).by_status[c._id.status] = c.n;
  }
  for (const span of latencySpans) {
    const ms = `${span}_ms`;
    const [buckets, sums] = await Promise.all([
      messages
        .aggregate<{ _id: Key & { bucket: number | null }; n: number }>([
          { $match: { [ms]: { $exists: true } } },
          { $group: { _id: { ...key, bucket: `$${span}_bucket` }, n: { $sum: 1 } } },
        ])
        .toArray(),
      messages
        .aggregate<{ _id: Key; s: number }>([{ $match: { [ms]: { $exists: true } } }, { $group: { _id: key, s: { $sum: `$${ms}` } } }])
        .toArray(),
    ]);
    const latencyOf = (k: Key): LatencyCounters => {
      const d = docOf(k);
      d[span] = d[span] ?? { n: 0, sum_ms: 0, buckets: {} };
      return d[span];
    };
    for (const b of buckets) {
      const l = latencyOf(b._id);
      l.n = (l.n ?? 0) + b.n;
      const k = bucketKey(b._id.bucket);
      l.buckets = { ...l.buckets, [k]: (l.buckets?.[k] ?? 0) + b.n };
    }
    for (const s of sums) latencyOf(s._id).sum_ms = s.s;
  }
  await stats.deleteMany({ _id: { $ne: builtMarker } });
  const all = [...docs.values()];
  for (let i = 0; i < all.length; i += 1000) await stats.insertMany(all.slice(i, i + 1000));
  await stats.updateOne({ _id: builtMarker }, { $set: { built_at: new Date() } as Document }, { upsert: true });
  return all.length;
}

/** Present once the counters were built from the messages (or the database started empty). */
const builtMarker = '_built';

/**
 * At start: marks an empty database as counted, and builds the counters once on a database that
 * has messages from before them — in the background, since that reads every message (minutes on
 * FerretDB) and the process must not wait for it to serve. Two processes starting together may
 * both build; the result is the same.
 */
export async function ensureDailyStats(messages: Collection<MessageDocument>, stats: DailyStats): Promise<void> {
  if (await stats.collection.findOne({ _id: builtMarker })) return;
  if (!(await messages.findOne({}, { projection: { _id: 1 } }))) {
    await stats.collection.updateOne({ _id: builtMarker }, { $set: { built_at: new Date() } as Document }, { upsert: true });
    return;
  }
  rebuildDailyStats(messages, stats.collection).catch((err) => stats.onError(err));
}

/** Upper edges of the latency buckets with their counter keys, in order. */
export const bucketEdges = latencyBuckets.map((edge) => ({ edge, key: bucketKey(edge) }));
