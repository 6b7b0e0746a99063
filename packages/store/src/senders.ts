import type { SealedSecret, SenderDocument, SenderSecretsRepository } from '@herald/shared';
import { type Collection, MongoServerError } from 'mongodb';
import { DuplicateRecordError, StoreConflictError } from './errors.ts';
import type { ServerProfile } from './profiles/profile.ts';

/** What an update may change (never the id, tenant or provider: the secrets are bound to them). */
export type SenderChange = Partial<
  Pick<SenderDocument, 'label' | 'mps' | 'default_at' | 'disabled' | 'fallback' | 'identifiers' | 'secrets'>
> &
  Pick<SenderDocument, 'updated_at' | 'updated_by'>;

/**
 * Senders: one provider account and number each, owned by a tenant. The store sees their secrets
 * only sealed (encryption is the caller's: packages/shared/src/crypto/secret-box.ts).
 *
 * Every write of a tenant's senders runs under the profile's lock for that tenant (on FerretDB a
 * conditional update is not atomic, and the default moves between documents); each update is
 * compare-and-set on `version`, so an admin's edit never silently overwrites another's. One default
 * per tenant: the enabled sender with the latest `default_at`; making one the default clears every
 * other mark (see #settleDefault for why two concurrent changes still end with one).
 */
export class SenderStore implements SenderSecretsRepository {
  readonly #c: Collection<SenderDocument>;
  readonly #profile: ServerProfile;

  constructor(collection: Collection<SenderDocument>, profile: ServerProfile) {
    this.#c = collection;
    this.#profile = profile;
  }

  #locked<T>(tenant: string, fn: () => Promise<T>): Promise<T> {
    return this.#profile.exclusive([`senders:tenant:${tenant}`], fn);
  }

  /** Adds a sender (DuplicateRecordError if its id exists). */
  async insert(doc: SenderDocument): Promise<void> {
    await this.#locked(doc.tenant, async () => {
      try {
        await this.#c.insertOne(doc);
      } catch (err) {
        if (err instanceof MongoServerError && err.code === 11000) throw new DuplicateRecordError(`sender ${doc._id} exists`);
        throw err;
      }
      if (doc.default_at) await this.#settleDefault(doc.tenant);
    });
  }

  /** One sender; with a tenant in `scope`, only if it is that tenant's. */
  get(id: string, scope: { tenant?: string } = {}): Promise<SenderDocument | null> {
    return this.#c.findOne({ _id: id, ...(scope.tenant !== undefined ? { tenant: scope.tenant } : {}) });
  }

  /**
   * Senders of `provider` whose identifier `name` is `value` (every tenant's, disabled ones too: a
   * disabled sender's late webhooks still verify), oldest first: how a webhook finds the sender
   * it belongs to. An equality match, which both profiles serve (an index on MongoDB).
   */
  byIdentifier(provider: SenderDocument['provider'], name: string, value: string): Promise<SenderDocument[]> {
    return this.#c
      .find({ provider, [`identifiers.${name}`]: value })
      .sort({ created_at: 1, _id: 1 })
      .toArray();
  }

  /** Senders of one tenant, or of all; by tenant, then oldest first. */
  list(scope: { tenant?: string } = {}): Promise<SenderDocument[]> {
    return this.#c
      .find(scope.tenant !== undefined ? { tenant: scope.tenant } : {})
      .sort({ tenant: 1, created_at: 1, _id: 1 })
      .toArray();
  }

  /** The tenant's default sender: enabled, latest `default_at`. null: the tenant has none. */
  async defaultFor(tenant: string): Promise<SenderDocument | null> {
    const marked = await this.#c.find({ tenant, default_at: { $ne: null } }).toArray();
    return pickDefault(marked);
  }

  /**
   * Applies `change` if the sender is still at `expectedVersion`; answers the new document. null:
   * no such sender. StoreConflictError: it changed meanwhile (read it again and retry).
   */
  async update(id: string, tenant: string, expectedVersion: number, change: SenderChange): Promise<SenderDocument | null> {
    return this.#locked(tenant, async () => {
      const doc = await this.#c.findOneAndUpdate(
        { _id: id, tenant, version: expectedVersion },
        { $set: change, $inc: { version: 1 } },
        { returnDocument: 'after' },
      );
      if (!doc) {
        if (await this.#c.findOne({ _id: id, tenant }, { projection: { _id: 1 } }))
          throw new StoreConflictError('the sender changed meanwhile; retry');
        return null;
      }
      if (change.default_at) await this.#settleDefault(tenant);
      return doc;
    });
  }

  /** Senders whose secrets are sealed with another key than `kid` (re-encryption's work list). */
  notSealedWith(kid: string): Promise<SenderDocument[]> {
    return this.#c.find({ 'secrets.kid': { $ne: kid } }).toArray();
  }

  /** Replaces the sealed secrets if the sender is still at `version`; false if it changed meanwhile (or is gone). */
  async replaceSecrets(id: string, version: number, secrets: SealedSecret): Promise<boolean> {
    const doc = await this.#c.findOne({ _id: id }, { projection: { tenant: 1 } });
    if (!doc) return false;
    return this.#locked(doc.tenant, async () => {
      const res = await this.#c.updateOne({ _id: id, version }, { $set: { secrets }, $inc: { version: 1 } });
      return res.modifiedCount === 1;
    });
  }

  /**
   * After a sender of `tenant` was marked the default: of the tenant's marked senders, the latest mark
   * (ties: the larger id) stays, every other mark is cleared. Each writer marks before it reads, so
   * of two concurrent changes the later reader sees both, and both converge on the same winner.
   */
  async #settleDefault(tenant: string): Promise<void> {
    const marked = await this.#c.find({ tenant, default_at: { $ne: null } }, { projection: { _id: 1, default_at: 1 } }).toArray();
    const winner = latestMark(marked);
    const losers = marked.filter((d) => d._id !== winner?._id);
    await this.#profile.each(losers, (d) =>
      this.#c.updateOne({ _id: d._id, default_at: d.default_at }, { $set: { default_at: null }, $inc: { version: 1 } }),
    );
  }
}

function latestMark<T extends Pick<SenderDocument, '_id' | 'default_at'>>(docs: T[]): T | null {
  let best: T | null = null;
  for (const d of docs) {
    if (!d.default_at) continue;
    const t = new Date(d.default_at).getTime();
    const b = best ? new Date(best.default_at as Date).getTime() : -1;
    if (!best || t > b || (t === b && d._id > best._id)) best = d;
  }
  return best;
}

/** Of a tenant's senders, the default: enabled, with the latest `default_at` (ties: the larger id). */
export function pickDefault(docs: SenderDocument[]): SenderDocument | null {
  return latestMark(docs.filter((d) => !d.disabled));
}
