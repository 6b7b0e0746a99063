import {
  type ProviderTemplateChange,
  type ProviderTemplateDocument,
  type ProviderTemplateListing,
  providerTemplateKey,
} from '@herald/shared';
import type { Collection } from 'mongodb';
import type { ServerProfile } from './profiles/profile.ts';

type Provider = ProviderTemplateDocument['provider'];

/** What the record would say after `info`, when `info` is newer than what the record holds. */
interface Info {
  at: Date;
  status?: { status: string; reason: string | null; category?: string | null | undefined };
  quality?: string | null;
  provider_id?: string | null;
  /** A sync listed it: `last_synced_at` becomes `at`. */
  synced?: boolean;
}

/** The reason given to a template a complete sync no longer lists. */
export const notListedReason = 'no longer listed by the provider';

/**
 * Provider templates' states (`provider_templates`, `_id` = `provider:name:language`), as learned
 * from syncs and webhooks. Every write carries the time its information is from, and never
 * replaces newer information: a webhook delivered late does not undo a later sync, and a sync
 * that read the list before a webhook arrived does not undo the webhook.
 */
export class ProviderTemplateStore {
  readonly #c: Collection<ProviderTemplateDocument>;
  readonly #profile: ServerProfile;

  constructor(collection: Collection<ProviderTemplateDocument>, profile: ServerProfile) {
    this.#c = collection;
    this.#profile = profile;
  }

  /** Every provider template (a few hundred per account at most): the API's mirror. */
  list(provider?: Provider): Promise<ProviderTemplateDocument[]> {
    return this.#c
      .find(provider ? { provider } : {})
      .sort({ _id: 1 })
      .toArray();
  }

  get(provider: Provider, name: string, language: string): Promise<ProviderTemplateDocument | null> {
    return this.#c.findOne({ _id: providerTemplateKey(provider, name, language) });
  }

  /**
   * Applies a webhook's change; returns the record as it now is (to announce), or null when the
   * record already held newer information and nothing changed.
   */
  apply(provider: Provider, change: ProviderTemplateChange, now = new Date()): Promise<ProviderTemplateDocument | null> {
    return this.#merge(provider, change.name, change.language, now, {
      at: change.at,
      ...(change.status ? { status: change.status } : {}),
      ...(change.quality !== undefined ? { quality: change.quality } : {}),
      ...(change.provider_id !== undefined ? { provider_id: change.provider_id } : {}),
    });
  }

  /**
   * Applies a complete list read from the provider at `at`: each listed template takes the list's
   * status, quality, reason and category, and `last_synced_at`; a template it no longer lists is
   * marked DELETED (Meta refuses to send it). Returns how many records changed and how many were
   * marked.
   */
  async applySync(
    provider: Provider,
    listings: ProviderTemplateListing[],
    at: Date,
    now = new Date(),
  ): Promise<{ changed: number; removed: number }> {
    const listed = new Set(listings.map((l) => providerTemplateKey(provider, l.name, l.language)));
    const before = new Map((await this.list(provider)).map((d) => [d._id, d]));
    const results = await this.#profile.each(listings, async (l) => {
      const prior = before.get(providerTemplateKey(provider, l.name, l.language));
      const doc = await this.#merge(provider, l.name, l.language, now, {
        at,
        status: { status: l.status, reason: l.reason, category: l.category },
        quality: l.quality,
        provider_id: l.provider_id,
        synced: true,
      });
      return doc !== null && (!prior || prior.updated_at.getTime() !== doc.updated_at.getTime());
    });
    const gone = [...before.values()].filter((d) => !listed.has(d._id) && d.status !== 'DELETED');
    const removed = await this.#profile.each(gone, async (d) => {
      const doc = await this.#merge(provider, d.name, d.language, now, {
        at,
        status: { status: 'DELETED', reason: notListedReason },
      });
      return doc !== null && doc.status === 'DELETED';
    });
    return { changed: results.filter(Boolean).length, removed: removed.filter(Boolean).length };
  }

  /** Read, merge, write, while no other process writes this record. */
  #merge(provider: Provider, name: string, language: string, now: Date, info: Info): Promise<ProviderTemplateDocument | null> {
    const _id = providerTemplateKey(provider, name, language);
    return this.#profile.exclusive([`${this.#c.collectionName}:${_id}`], async () => {
      const current = await this.#c.findOne({ _id });
      const next = merged(current, { _id, provider, name, language }, info, now);
      if (next === current) return null;
      await this.#c.replaceOne({ _id }, next, { upsert: true });
      return next;
    });
  }
}

/** The record after `info`, or `current` itself when `info` is older than all it would change. */
function merged(
  current: ProviderTemplateDocument | null,
  id: Pick<ProviderTemplateDocument, '_id' | 'provider' | 'name' | 'language'>,
  info: Info,
  now: Date,
): ProviderTemplateDocument {
  const base: ProviderTemplateDocument = current ?? {
    ...id,
    status: 'UNKNOWN',
    category: null,
    quality: null,
    reason: null,
    provider_id: null,
    status_at: new Date(0),
    quality_at: new Date(0),
    last_synced_at: null,
    updated_at: now,
  };
  const next = { ...base };
  let changed = false;
  if (info.status && info.at >= base.status_at) {
    changed ||= next.status !== info.status.status || next.reason !== info.status.reason;
    next.status = info.status.status;
    next.reason = info.status.reason;
    if (info.status.category !== undefined && info.status.category !== null) {
      changed ||= next.category !== info.status.category;
      next.category = info.status.category;
    }
    next.status_at = info.at;
  }
  if (info.quality !== undefined && info.quality !== null && info.at >= base.quality_at) {
    changed ||= next.quality !== info.quality;
    next.quality = info.quality;
    next.quality_at = info.at;
  }
  if (info.provider_id) next.provider_id = info.provider_id;
  if (info.synced && (!base.last_synced_at || info.at > base.last_synced_at)) next.last_synced_at = info.at;
  if (changed || !current) next.updated_at = now;
  const time = (d: Date | null) => d?.getTime() ?? null;
  const touched =
    !current ||
    changed ||
    time(next.status_at) !== time(base.status_at) ||
    time(next.quality_at) !== time(base.quality_at) ||
    time(next.last_synced_at) !== time(base.last_synced_at) ||
    next.provider_id !== base.provider_id;
  return touched ? next : (current as ProviderTemplateDocument);
}
