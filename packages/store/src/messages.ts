import {
  Batcher,
  ENV_SENDER_ID,
  erasedPhone,
  latencyBucket,
  type MessageDocument,
  type MessageError,
  type MessageEvent,
  type MessageStatus,
  type StatusEvent,
  senderOwns,
  spanMs,
  statusWrites,
} from '@herald/shared';
import { type Collection, type Filter, MongoBulkWriteError, type UpdateFilter } from 'mongodb';
import { DuplicateRecordError } from './errors.ts';
import { foldEvents, type Snapshot } from './ladder.ts';
import type { ServerProfile } from './profiles/profile.ts';
import { type DailyStats, type StatsChange, statsProjection } from './stats.ts';

/** Which tenant's messages a caller may see: one tenant, or (an admin without one) all. */
export interface Scope {
  tenant?: string | undefined;
}

/** What inspection (tests, benches, operators' scripts) may ask of messages. */
export interface MessageQuery extends Scope {
  ids?: string[];
  status?: MessageStatus | MessageStatus[];
  phone?: string;
}

export interface HistoryFilter extends Scope {
  phone?: string | undefined;
  reference_id?: string | undefined;
  status?: MessageStatus | undefined;
  message_type?: string | undefined;
  /** The sender (issue 13); `env` also matches records from before senders, which have none. */
  sender?: string | undefined;
  from: Date;
  to: Date;
}

export interface HistoryRequest extends HistoryFilter {
  /** Continue after this message (newest first): its created_at and id. */
  after?: { created_at: Date; id: string } | undefined;
  skip: number;
  limit: number;
}

/** A provider's acceptance of one send, as the worker saw it. */
export interface SentRecord {
  at: Date;
  queued_at: Date;
  provider: string;
  provider_message_id: string;
  message_text: string | null;
  template_version: number | null;
  attempt: number;
  /** The sender that sent it when it was not the message's own: its fallback (failover). */
  sent_by?: string | undefined;
  /** The attempt was already counted (an unknown outcome, proved later by a webhook). */
  counted?: boolean;
}

/** A status change written by `applyStatusEvents`: what a callback says about it. */
export interface StatusChange {
  message: Pick<MessageDocument, '_id' | 'callback_url' | 'reference_id' | 'provider_message_id'>;
  status: MessageStatus;
  at: Date;
  /** A `read` that also delivered (no `delivered` came first): announce delivered, then read. */
  delivered_at?: Date;
  error: { code: string; message: string } | null;
}

/** What a reply needs of the message it answers: its callback and current status. */
export type ReplySubject = Pick<MessageDocument, '_id' | 'status' | 'callback_url' | 'reference_id' | 'provider_message_id'> & {
  /** The sender it went out through (absent: recorded before senders, the deployment's). */
  sender?: string | null;
  /** The fallback that sent it, after a failover. */
  sent_by?: string | null;
};
const replyProjection = { _id: 1, status: 1, callback_url: 1, reference_id: 1, provider_message_id: 1, sender: 1, sent_by: 1 } as const;

const pending: MessageStatus[] = ['scheduled', 'queued'];

/** How often a compare-and-set of status events is retried after another writer changed the message. */
const casAttempts = 5;

const snapshotProjection = {
  _id: 1,
  sent_at: 1,
  delivered_at: 1,
  provider_message_id: 1,
  event_keys: 1,
  callback_url: 1,
  reference_id: 1,
  sent_by: 1,
  ...statsProjection,
} as const;

/**
 * Messages: history records and every write that changes one. Each write keeps the per-day
 * statistics counters (a change of status, a removal, an insert) — no caller ever touches them —
 * and the status ladder of SPEC 3 is applied here, once.
 */
export class MessageStore {
  readonly #c: Collection<MessageDocument>;
  readonly #profile: ServerProfile;
  readonly #stats: DailyStats;
  readonly #inserts: Batcher<MessageDocument, undefined>;

  constructor(collection: Collection<MessageDocument>, profile: ServerProfile, stats: DailyStats) {
    this.#c = collection;
    this.#profile = profile;
    this.#stats = stats;
    // Concurrent single inserts (one per API request) go to the server as one insertMany per
    // event-loop turn: under load one round trip per batch rather than per request.
    this.#inserts = new Batcher(async (docs) => {
      const results = await this.#insertAll(docs);
      this.#stats.add(...docs.filter((_, i) => results[i] === undefined).map((after) => ({ after })));
      return results;
    });
  }

  /** Records one new message (coalesced with concurrent ones into one insertMany). */
  insert(doc: MessageDocument): Promise<void> {
    return this.#inserts.add(doc);
  }

  /** Records many new messages at once; rejects if any is refused (the caller then `remove`s them). */
  async insertMany(docs: MessageDocument[]): Promise<void> {
    if (docs.length === 0) return;
    const results = await this.#insertAll(docs);
    const ok = docs.filter((_, i) => results[i] === undefined);
    this.#stats.add(...ok.map((after) => ({ after })));
    const failed = results.find((r) => r instanceof Error);
    if (failed) throw failed;
  }

  /** One result per document: undefined when written, the server's error for one it refused. */
  async #insertAll(docs: MessageDocument[]): Promise<(Error | undefined)[]> {
    try {
      const stored = docs.map((d) => this.#profile.newDocument(d));
      if (stored.length === 1) await this.#c.insertOne(stored[0] as MessageDocument);
      else await this.#c.insertMany(stored, { ordered: false });
      return docs.map(() => undefined);
    } catch (err) {
      const duplicate = (i: number) => new DuplicateRecordError(`message ${docs[i]?._id} is already recorded`);
      if (docs.length === 1 && (err as { code?: number }).code === 11000) return [duplicate(0)];
      // Per-document errors (a duplicate id) fail that message only; anything else fails all.
      if (!(err instanceof MongoBulkWriteError)) throw err;
      const failed = new Map<number, Error>();
      for (const we of [err.writeErrors].flat()) {
        failed.set(we.index, we.code === 11000 ? duplicate(we.index) : new Error(we.errmsg ?? 'insert failed'));
      }
      if (failed.size === 0) throw err;
      return docs.map((_, i) => failed.get(i));
    }
  }

  /** Takes back messages that were not accepted after all (their job could not be queued). */
  async remove(docs: MessageDocument[]): Promise<number> {
    const removed = await this.#profile.each(docs, async (doc) =>
      (await this.#c.deleteOne({ _id: doc._id })).deletedCount === 1 ? doc : null,
    );
    const gone = removed.filter((d): d is MessageDocument => d !== null);
    await this.#stats.record(...gone.map((before) => ({ before })));
    return gone.length;
  }

  get(id: string, scope: Scope = {}): Promise<MessageDocument | null> {
    return this.#c.findOne({ _id: id, ...scopeFilter(scope) });
  }

  count(query: MessageQuery = {}): Promise<number> {
    return this.#c.countDocuments(queryFilter(query));
  }

  list(query: MessageQuery = {}, limit = 1000): Promise<MessageDocument[]> {
    return this.#c.find(queryFilter(query)).limit(limit).toArray();
  }

  /**
   * The provider accepted the message: `sent`, with its id, text and queued→sent latency. Only a
   * message still pending moves (a webhook may have moved it further already). Returns whether
   * it moved.
   */
  async recordSent(id: string, sent: SentRecord, detail: string): Promise<boolean> {
    const set = sentStatus(sent.queued_at, sent.at);
    const before = await this.#c.findOneAndUpdate(
      { _id: id, status: { $in: pending } },
      {
        $set: {
          ...set,
          sent_at: sent.at,
          provider: sent.provider,
          provider_message_id: sent.provider_message_id,
          message_text: sent.message_text,
          template_version: sent.template_version,
          error: null,
          ...(sent.sent_by ? { sent_by: sent.sent_by } : {}),
        },
        $inc: { attempts: sent.counted ? 0 : 1 },
        $push: { events: event('sent', sent.at, 'worker', sent.attempt, detail) },
      },
      { returnDocument: 'before' },
    );
    if (!before) return false;
    this.#stats.add({ before, after: { ...before, ...set } });
    return true;
  }

  /**
   * A proof that came too late: the message failed `outcome_unknown` (no attempt answered, no
   * webhook within any wait), and now a webhook of the sender it went through names it under a
   * provider id — the provider did take it. It becomes `sent` under that id (its later statuses then
   * apply as usual), with a timeline entry saying so. False when no such message.
   */
  async adoptLateProof(id: string, proof: { provider: string; provider_message_id: string; sender: string; at: Date }): Promise<boolean> {
    const current = await this.#c.findOne(
      { _id: id, status: 'failed', 'error.code': 'outcome_unknown' },
      { projection: { sender: 1, sent_by: 1, queued_at: 1, provider_message_id: 1 } },
    );
    if (!current || current.provider_message_id || !senderOwns(current, proof.sender)) return false;
    const set = sentStatus(current.queued_at, proof.at);
    const entry = event(
      'sent',
      proof.at,
      'webhook',
      null,
      `accepted by ${proof.provider} as ${proof.provider_message_id}: its webhook came after the message had failed for want of one`,
    );
    const before = await this.#c.findOneAndUpdate(
      { _id: id, status: 'failed', 'error.code': 'outcome_unknown' },
      {
        $set: {
          ...set,
          sent_at: proof.at,
          provider: proof.provider,
          provider_message_id: proof.provider_message_id,
          error: null,
          failed_at: null,
        },
        $push: { events: entry },
      },
      { returnDocument: 'before' },
    );
    if (!before) return false;
    this.#stats.add({ before, after: { ...before, ...set } });
    return true;
  }

  /** One attempt failed: `final` ends the message `failed`, else it waits for a retry. */
  async recordFailure(id: string, f: { at: Date; attempt: number; error: MessageError; final: boolean; counted?: boolean }): Promise<void> {
    const detail = `${f.error.code}: ${f.error.message}${f.final ? '' : ' (will retry)'}`;
    const before = await this.#c.findOneAndUpdate(
      { _id: id },
      {
        $set: f.final ? { status: 'failed', failed_at: f.at, error: f.error } : { error: f.error },
        $inc: { attempts: f.counted ? 0 : 1 },
        $push: { events: event(f.final ? 'failed' : 'attempt_failed', f.at, 'worker', f.attempt, detail) },
      },
      { returnDocument: 'before' },
    );
    if (f.final && before) this.#stats.add({ before, after: { ...before, status: 'failed' } });
  }

  /**
   * One attempt's outcome is unknown (the request went out, no answer came): an `unknown` entry,
   * the attempt counted, the status unchanged (it waits for a webhook to prove acceptance).
   */
  async recordUnknown(id: string, u: { at: Date; attempt: number; error: MessageError; detail: string }): Promise<void> {
    await this.#c.updateOne(
      { _id: id },
      { $set: { error: u.error }, $inc: { attempts: 1 }, $push: { events: event('unknown', u.at, 'worker', u.attempt, u.detail) } },
    );
  }

  /** Not handed to the provider by its expiry: `expired`, if still pending. Returns whether it moved. */
  async recordExpired(id: string, at: Date, detail: string): Promise<boolean> {
    const before = await this.#c.findOneAndUpdate(
      { _id: id, status: { $in: pending } },
      { $set: { status: 'expired', failed_at: at }, $push: { events: event('expired', at, 'worker', null, detail) } },
      { returnDocument: 'before' },
    );
    if (!before) return false;
    this.#stats.add({ before, after: { ...before, status: 'expired' } });
    return true;
  }

  /**
   * Not handed to the provider because the recipient refused it after it was accepted (opted out,
   * turned its type off): `suppressed`, with why, if still pending. Returns whether it moved.
   */
  async recordSuppressed(id: string, at: Date, detail: string): Promise<boolean> {
    const before = await this.#c.findOneAndUpdate(
      { _id: id, status: { $in: pending } },
      { $set: { status: 'suppressed' }, $push: { events: event('suppressed', at, 'worker', null, detail) } },
      { returnDocument: 'before' },
    );
    if (!before) return false;
    this.#stats.add({ before, after: { ...before, status: 'suppressed' } });
    return true;
  }

  /** The message the provider knows by `providerMessageId` (what a reply names), or null. */
  async findByProviderId(providerMessageId: string): Promise<ReplySubject | null> {
    return this.#c.findOne({ provider_message_id: providerMessageId }, { projection: replyProjection });
  }

  /**
   * A reply to the message: a `reply` entry on its timeline, once per `key` (the reply's own
   * provider id: a retried inbound job adds nothing). Returns the message as it is after the
   * write, or null when it is gone or already has this reply. Changes no status.
   */
  async recordReply(id: string, key: string, entry: MessageEvent): Promise<ReplySubject | null> {
    // No projection: FerretDB 1.24 does not implement one on findAndModify.
    const after = await this.#c.findOneAndUpdate(
      { _id: id, event_keys: { $ne: key } },
      { $push: { events: entry, event_keys: key } },
      { returnDocument: 'after' },
    );
    if (!after) return null;
    const { _id, status, callback_url, reference_id, provider_message_id } = after;
    const { sender, sent_by } = after as { sender?: string | null; sent_by?: string | null };
    return {
      _id,
      status,
      callback_url,
      reference_id,
      provider_message_id,
      ...(sender !== undefined ? { sender } : {}),
      ...(sent_by !== undefined ? { sent_by } : {}),
    };
  }

  /** Adds a timeline entry that changes nothing else (throttled, delayed). */
  async addEvent(id: string, entry: MessageEvent): Promise<void> {
    await this.#c.updateOne({ _id: id }, { $push: { events: entry } });
  }

  /**
   * Applies provider status events (SPEC 3/4): each message's events are folded into one update
   * along the ladder, repeats add nothing, and the write is a compare-and-set on the state read
   * (status and number of applied events), retried on a concurrent change. Returns the status
   * changes written (for callbacks) and the events whose provider id matches no message.
   * `announce` runs before the messages are released to other writers, so that what it numbers
   * (callback sequences) follows the order the changes were written in.
   */
  async applyStatusEvents(
    events: StatusEvent[],
    announce?: (changes: StatusChange[]) => Promise<void>,
  ): Promise<{ changes: StatusChange[]; applied: StatusEvent[]; unknown: StatusEvent[] }> {
    const ids = [...new Set(events.map((e) => e.provider_message_id))];
    return this.#profile.exclusive(
      ids.map((id) => `status:${id}`),
      async () => {
        const docs = await this.#profile.findWhereIn(this.#c, 'provider_message_id', ids, snapshotProjection);
        const byProviderId = new Map(docs.map((d) => [d.provider_message_id, d as unknown as Snapshot & { sender?: string | null }]));
        // An event applies only to a message of the sender whose webhook brought it (senderOwns):
        // one that names another sender's message is, for this sender, a message it never sent.
        const owned = (e: StatusEvent) => {
          const doc = byProviderId.get(e.provider_message_id);
          return doc !== undefined && senderOwns(doc, e.sender);
        };
        // Each message's own events, grouped once (a coalesced batch holds thousands).
        const mine = new Map<string, StatusEvent[]>();
        for (const e of events) {
          if (!owned(e)) continue;
          const list = mine.get(e.provider_message_id);
          if (list) list.push(e);
          else mine.set(e.provider_message_id, [e]);
        }
        // An owned event's message is in byProviderId (owned says so).
        const written = await this.#profile.each([...mine], ([id, own]) => this.#applyTo(byProviderId.get(id) as Snapshot, own));
        const changes: StatusChange[] = [];
        const counted: StatsChange[] = [];
        const applied: StatusEvent[] = [];
        for (const w of written) {
          if (!w) continue;
          counted.push(w.stats);
          applied.push(...w.events);
          if (w.change) changes.push(w.change);
        }
        this.#stats.add(...counted);
        if (announce && changes.length > 0) await announce(changes);
        return { changes, applied, unknown: events.filter((e) => !owned(e)) };
      },
    );
  }

  async #applyTo(
    first: Snapshot,
    events: StatusEvent[],
  ): Promise<{ stats: StatsChange; events: StatusEvent[]; change: StatusChange | undefined } | undefined> {
    let doc: Snapshot | null = first;
    for (let i = 0; i < casAttempts && doc; i++) {
      const fold = foldEvents(doc, events);
      if (!fold) return undefined;
      const update: UpdateFilter<MessageDocument> = {
        ...(Object.keys(fold.set).length > 0 ? { $set: fold.set } : {}),
        $push: { events: { $each: fold.entries }, event_keys: { $each: fold.keys } },
      };
      const res = await this.#c.updateOne(
        { _id: doc._id, status: doc.status, event_keys: { $size: (doc.event_keys ?? []).length } } as Filter<MessageDocument>,
        update,
      );
      if (res.modifiedCount === 1) {
        statusWrites.inc();
        const set = fold.set;
        const status = set.status;
        const change: StatusChange | undefined =
          status && doc.callback_url
            ? {
                message: {
                  _id: doc._id,
                  callback_url: doc.callback_url ?? null,
                  reference_id: doc.reference_id ?? null,
                  provider_message_id: doc.provider_message_id,
                },
                status,
                at: (status === 'read' ? set.read_at : status === 'delivered' ? set.delivered_at : set.failed_at) ?? new Date(),
                ...(status === 'read' && set.delivered_at ? { delivered_at: set.delivered_at } : {}),
                error: status === 'failed' && set.error ? { code: set.error.code, message: set.error.message } : null,
              }
            : undefined;
        return { stats: { before: doc, after: { ...doc, ...set } }, events, change };
      }
      // Another writer changed the message between our read and write: read it again.
      doc = (await this.#c.findOne({ _id: doc._id }, { projection: snapshotProjection })) as Snapshot | null;
    }
    throw new Error(`message ${first._id} kept changing while its status events were applied; retrying`);
  }

  /** Cancels a message that is still queued or scheduled; null when it no longer is. */
  async cancel(id: string, detail: string, at = new Date()): Promise<MessageDocument | null> {
    return this.#transition(id, pending, { status: 'cancelled' }, event('cancelled', at, 'admin', null, detail));
  }

  /** A failed message back to `queued` (same id, event `resent`); null when it is no longer failed. */
  async resend(id: string, detail: string, at = new Date()): Promise<MessageDocument | null> {
    return this.#transition(
      id,
      ['failed'],
      { status: 'queued', queued_at: at, failed_at: null, error: null },
      event('resent', at, 'admin', null, detail),
    );
  }

  /** Undoes `resend` when its job could not be queued: the message is failed again, as it was. */
  async restoreFailed(before: MessageDocument): Promise<void> {
    const res = await this.#c.updateOne(
      { _id: before._id, status: 'queued' },
      { $set: { status: 'failed', failed_at: before.failed_at, error: before.error, queued_at: before.queued_at } },
    );
    if (res.modifiedCount === 1) await this.#stats.record({ before: { ...before, status: 'queued' }, after: before });
  }

  async #transition(id: string, from: MessageStatus[], set: Partial<MessageDocument>, entry: MessageEvent) {
    const before = await this.#c.findOneAndUpdate(
      { _id: id, status: { $in: from } },
      { $set: set, $push: { events: entry } },
      { returnDocument: 'before' },
    );
    if (!before) return null;
    const after = { ...before, ...set, events: [...before.events, entry] } as MessageDocument;
    await this.#stats.record({ before, after });
    return after;
  }

  /** Ids of a person's messages still waiting to be sent (their jobs are removed before erasure). */
  async pendingIdsFor(phone: string): Promise<string[]> {
    const docs = await this.#c.find({ phone, status: { $in: pending } }, { projection: { _id: 1 } }).toArray();
    return docs.map((d) => d._id);
  }

  /** Failed messages whose last error was retryable (process-queue). */
  async retryableFailedIds(scope: Scope, limit: number): Promise<string[]> {
    const docs = await this.#c
      .find({ ...scopeFilter(scope), status: 'failed', 'error.retryable': true }, { projection: { _id: 1 } })
      .limit(limit)
      .toArray();
    return docs.map((d) => d._id);
  }

  /** A page of history, newest first, and how many match the filter. */
  async historyPage(q: HistoryRequest): Promise<{ items: MessageDocument[]; total: number }> {
    const filter: Filter<MessageDocument> = { ...scopeFilter(q), created_at: { $gte: q.from, $lte: q.to } };
    if (q.phone) filter.phone = q.phone;
    if (q.reference_id) filter.reference_id = q.reference_id;
    if (q.status) filter.status = q.status;
    if (q.message_type) filter.message_type = q.message_type;
    if (q.sender) {
      if (q.sender === ENV_SENDER_ID) filter.$or = [{ sender: ENV_SENDER_ID }, { sender: { $exists: false } }];
      else filter.sender = q.sender;
    }
    const page: Filter<MessageDocument> = q.after
      ? {
          $and: [
            filter,
            { $or: [{ created_at: { $lt: q.after.created_at } }, { created_at: q.after.created_at, _id: { $lt: q.after.id } }] },
          ],
        }
      : filter;
    const [items, total] = await Promise.all([
      this.#c.find(page).sort({ created_at: -1, _id: -1 }).skip(q.skip).limit(q.limit).toArray(),
      this.#c.countDocuments(filter),
    ]);
    return { items, total };
  }

  /**
   * Erases a person from history: their still-pending messages end `cancelled` (their jobs must be
   * removed first), and every message to them keeps its counts and timestamps (statistics stay
   * right) but loses the phone, context, text, reference, callback URL and idempotency key.
   * Returns the ids of every message that was theirs and how many were anonymised.
   */
  async erasePerson(phone: string, at = new Date()): Promise<{ ids: string[]; anonymised: number }> {
    const docs = await this.#c.find({ phone }, { projection: { _id: 1, ...statsProjection } }).toArray();
    const entry = event('cancelled', at, 'api', null, 'recipient erased');
    let anonymised = 0;
    await this.#profile.each(docs, async (doc) => {
      if (pending.includes(doc.status)) {
        const before = await this.#c.findOneAndUpdate(
          { _id: doc._id, status: { $in: pending } },
          { $set: { status: 'cancelled' }, $push: { events: entry } },
          { returnDocument: 'before' },
        );
        if (before) await this.#stats.record({ before, after: { ...before, status: 'cancelled' } });
      }
      const res = await this.#c.updateOne(
        { _id: doc._id, phone },
        {
          $set: {
            phone: erasedPhone,
            context: {},
            message_text: null,
            reference_id: null,
            callback_url: null,
            idempotency_key: null,
          },
          // A text message's attachment (an invoice link) can name the person too.
          $unset: { media: '' },
        },
      );
      anonymised += res.modifiedCount;
    });
    return { ids: docs.map((d) => d._id), anonymised };
  }

  /**
   * Retention: removes messages created before `cutoff`, in batches so one run never holds a long
   * operation, one delete per id so only a delete that removed its message takes it out of the
   * counters. Returns how many were removed.
   */
  async purgeOlderThan(cutoff: Date, batch = 1000): Promise<number> {
    let removed = 0;
    for (;;) {
      const docs = await this.#c
        .find({ created_at: { $lt: cutoff } }, { projection: { _id: 1, ...statsProjection } })
        .limit(batch)
        .toArray();
      if (docs.length === 0) return removed;
      const gone = (
        await this.#profile.each(docs, async (doc) => ((await this.#c.deleteOne({ _id: doc._id })).deletedCount === 1 ? doc : null))
      ).filter((d) => d !== null);
      await this.#stats.record(...gone.map((before) => ({ before })));
      removed += gone.length;
      if (docs.length < batch) return removed;
    }
  }
}

/** The status and queued→sent latency fields of a message sent at `at` (no latency when it was never queued). */
function sentStatus(queuedAt: Date | null, at: Date) {
  if (!queuedAt) return { status: 'sent' as const };
  const span = spanMs(queuedAt, at);
  return { status: 'sent' as const, queued_to_sent_ms: span, queued_to_sent_bucket: latencyBucket(span) ?? undefined };
}

export function event(
  status: string,
  at: Date,
  source: MessageEvent['source'],
  attempt: number | null,
  detail: string | null,
): MessageEvent {
  return { status, at: at.toISOString(), source, attempt, detail };
}

function scopeFilter(scope: Scope): Filter<MessageDocument> {
  return scope.tenant === undefined ? {} : { tenant: scope.tenant };
}

function queryFilter(q: MessageQuery): Filter<MessageDocument> {
  const filter: Filter<MessageDocument> = scopeFilter(q);
  if (q.ids) filter._id = q.ids.length === 1 ? (q.ids[0] as string) : { $in: q.ids };
  if (q.status) filter.status = Array.isArray(q.status) ? { $in: q.status } : q.status;
  if (q.phone) filter.phone = q.phone;
  return filter;
}
