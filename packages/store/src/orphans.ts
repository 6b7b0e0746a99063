import type { OrphanEvent, StatusEvent } from '@herald/shared';
import { type Collection, MongoBulkWriteError } from 'mongodb';
import type { ServerProfile } from './profiles/profile.ts';

/** An orphan as stored: the event through the profile's payload encoding, recipients as digits. */
export interface OrphanDocument {
  _id: string;
  provider: string;
  provider_message_id: string | null;
  status: string | null;
  /** Every phone number the event names, digits only: erasure deletes by it. */
  recipients: string[];
  event: unknown;
  received_at: Date;
  kept_at: Date;
}

const digits = (phone: string) => phone.replace(/\D/g, '');

/**
 * Phone-like runs in a raw body Herald cannot parse (a `+`, 8–15 digits, spaces or dashes
 * between them): kept beside the body so that erasing a person finds the events naming them
 * without parsing every stored body.
 */
export function phoneCandidates(body: string): string[] {
  const found = new Set<string>();
  for (const m of body.matchAll(/\+?\d[\d\s\-().]{6,22}\d/g)) {
    const d = digits(m[0]);
    if (d.length >= 8 && d.length <= 15) found.add(d);
  }
  return [...found];
}

/** Webhook events that matched no message, kept for inspection (SPEC 4). */
export class OrphanStore {
  readonly #c: Collection<OrphanDocument>;
  readonly #profile: ServerProfile;

  constructor(collection: Collection<OrphanDocument>, profile: ServerProfile) {
    this.#c = collection;
    this.#profile = profile;
  }

  /** Keeps parsed events under stable ids (`${jobId}:${i}`): a second run of the same job adds nothing. */
  async keep(provider: string, receivedAt: Date, events: { id: string; event: StatusEvent }[], now = new Date()): Promise<void> {
    if (events.length === 0) return;
    const docs: OrphanDocument[] = events.map(({ id, event }) => ({
      _id: id,
      provider,
      provider_message_id: event.provider_message_id,
      status: event.status,
      recipients: event.recipient ? [digits(event.recipient)] : [],
      event: this.#profile.encodePayload(event),
      received_at: receivedAt,
      kept_at: now,
    }));
    try {
      await this.#c.insertMany(docs, { ordered: false });
    } catch (err) {
      if (!(err instanceof MongoBulkWriteError && [err.writeErrors].flat().every((e) => e.code === 11000))) throw err;
    }
  }

  /** Keeps a verified body Herald cannot map, once per `id` (a replay adds nothing). */
  async keepRaw(id: string, provider: string, body: string, now = new Date()): Promise<void> {
    try {
      await this.#c.insertOne({
        _id: `raw:${id}`,
        provider,
        provider_message_id: null,
        status: null,
        recipients: phoneCandidates(body),
        event: this.#profile.encodePayload(body),
        received_at: now,
        kept_at: now,
      });
    } catch (err) {
      if ((err as { code?: number }).code !== 11000) throw err;
    }
  }

  async list(limit = 100): Promise<OrphanEvent[]> {
    const docs = await this.#c.find({}).sort({ kept_at: -1 }).limit(limit).toArray();
    return docs.map((d) => ({
      id: d._id,
      provider: d.provider,
      provider_message_id: d.provider_message_id ?? null,
      status: d.status ?? null,
      recipient: d.recipients?.[0] ?? null,
      event: this.#profile.decodePayload(d.event),
      received_at: d.received_at,
      kept_at: d.kept_at,
    }));
  }

  /** Deletes every kept event naming this phone (E.164), parsed or raw. */
  async removeFor(phone: string): Promise<number> {
    const docs = await this.#c.find({ recipients: digits(phone) }, { projection: { _id: 1 } }).toArray();
    const removed = await this.#profile.each(docs, async (d) => (await this.#c.deleteOne({ _id: d._id })).deletedCount);
    return removed.reduce((a, b) => a + b, 0);
  }
}
