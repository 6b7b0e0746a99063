import type { Queue } from 'bullmq';
import type { Collections } from '../db/collections.ts';
import { statsProjection } from '../stats/daily-stats.ts';

/** What an erasure touched, per kind of record. */
export interface ErasureReport {
  phone_redacted: string;
  messages_anonymised: number;
  jobs_removed: number;
  settings_removed: number;
  orphan_events_removed: number;
}

/** The placeholder that replaces an erased phone number. */
export const erasedPhone = 'erased';

/** `+919876543210` → `+91******3210`: enough to recognise in a report, not to contact. */
export const redactPhone = (phone: string): string =>
  phone.length > 7 ? `${phone.slice(0, 3)}${'*'.repeat(phone.length - 7)}${phone.slice(-4)}` : '***';

/**
 * Erases one person (an E.164 phone): every message to them keeps its counts and timestamps
 * (statistics stay right) but loses the phone, context, text, reference, callback URL and idempotency key;
 * jobs still waiting to send to them are removed (the message ends `cancelled`); their settings
 * and any unmatched webhook events naming them are deleted. Idempotency keys in Redis hold only a
 * message id and a hash, never the phone, so they are left to expire (24 h).
 */
export async function erasePerson(db: Collections, sendQueue: Queue, phone: string, now = new Date()): Promise<ErasureReport> {
  const pending = await db.messages.find({ phone, status: { $in: ['queued', 'scheduled'] } }, { projection: { _id: 1 } }).toArray();
  let jobsRemoved = 0;
  for (const { _id } of pending) {
    const removed = await sendQueue.remove(_id).catch(() => 0);
    if (removed === 1) jobsRemoved += 1;
    const before = await db.messages.findOneAndUpdate(
      { _id, status: { $in: ['queued', 'scheduled'] } },
      {
        $set: { status: 'cancelled' },
        $push: { events: { status: 'cancelled', at: now.toISOString(), source: 'api', attempt: null, detail: 'recipient erased' } },
      },
      { returnDocument: 'before' },
    );
    if (before) await db.stats.record({ before, after: { ...before, status: 'cancelled' } });
  }
  const anonymised = await db.messages.updateMany(
    { phone },
    {
      $set: {
        phone: erasedPhone,
        context: {},
        message_text: null,
        reference_id: null,
        callback_url: null,
        idempotency_key: null,
      },
    },
  );
  const settings = await db.settings.deleteOne({ _id: phone });
  const orphans = await db.orphans.deleteMany({ 'event.recipient_id': phone.replace(/^\+/, '') } as never);
  return {
    phone_redacted: redactPhone(phone),
    messages_anonymised: anonymised.modifiedCount,
    jobs_removed: jobsRemoved,
    settings_removed: settings.deletedCount,
    orphan_events_removed: orphans.deletedCount,
  };
}

/**
 * Retention: removes messages created more than `days` ago, in batches so one run never holds a
 * long operation on FerretDB, and takes them out of the statistics counters. One delete per id:
 * FerretDB pushes an `_id` equality down to PostgreSQL but evaluates `$in` over the whole
 * collection, and only a delete that removed its message may take it out of the counters.
 * Returns how many were removed. (No TTL index: FerretDB has none.)
 */
export async function removeExpiredMessages(db: Collections, days: number, now = new Date(), batch = 1000): Promise<number> {
  const cutoff = new Date(now.getTime() - days * 86_400_000);
  let removed = 0;
  for (;;) {
    const docs = await db.messages
      .find({ created_at: { $lt: cutoff } }, { projection: { _id: 1, ...statsProjection } })
      .limit(batch)
      .toArray();
    if (docs.length === 0) return removed;
    const gone: typeof docs = [];
    for (const doc of docs) if ((await db.messages.deleteOne({ _id: doc._id })).deletedCount === 1) gone.push(doc);
    await db.stats.record(...gone.map((before) => ({ before })));
    removed += gone.length;
    if (docs.length < batch) return removed;
  }
}
