import { z } from 'zod';
import { ChannelFollower } from '../mirror/channel-follower.ts';
import type { RedisConnection } from '../queues/queues.ts';

/**
 * A provider's own template as Herald last learned it (from a sync or a webhook): Meta decides
 * whether a template may be sent, per name and language. `_id` is `provider:name:language`.
 * Statuses are Meta's words (APPROVED, PENDING, REJECTED, PAUSED, DISABLED, IN_APPEAL,
 * PENDING_DELETION, DELETED, ARCHIVED, LIMIT_EXCEEDED, …), kept as strings: Meta adds new ones.
 */
export const providerTemplateDocument = z.object({
  _id: z.string(),
  provider: z.literal('meta'),
  name: z.string(),
  language: z.string(),
  status: z.string(),
  category: z.string().nullable(),
  /** GREEN, YELLOW, RED or UNKNOWN; null when Meta has not said. */
  quality: z.string().nullable(),
  /** Meta's reason for the last status (`rejected_reason`, or a webhook's `reason`); null for none. */
  reason: z.string().nullable(),
  /** Meta's template id. */
  provider_id: z.string().nullable(),
  /** When the information behind `status` is from: an older sync or webhook never replaces it. */
  status_at: z.date(),
  /** When the information behind `quality` is from. */
  quality_at: z.date(),
  /** The last sync that listed this template (null: only known from webhooks). */
  last_synced_at: z.date().nullable(),
  /** When Herald last changed status, quality, reason or category. */
  updated_at: z.date(),
});
export type ProviderTemplateDocument = z.infer<typeof providerTemplateDocument>;

/** One template as a sync reads it from the provider. */
export interface ProviderTemplateListing {
  name: string;
  language: string;
  status: string;
  category: string | null;
  quality: string | null;
  reason: string | null;
  provider_id: string | null;
}

/** A webhook's change to one template: a new status, a new quality, or both. */
export interface ProviderTemplateChange {
  name: string;
  language: string;
  /** When the provider says it happened. */
  at: Date;
  status?: { status: string; reason: string | null; category?: string | null | undefined };
  quality?: string;
  provider_id?: string | null;
}

/** Meta's status that lets a template be sent. */
export const approvedStatus = 'APPROVED';

/** The key of a provider template: Meta tells templates apart by name and language. */
export const providerTemplateKey = (provider: 'meta', name: string, language: string) => `${provider}:${name}:${language}`;

/** The pub/sub message of one changed record (JSON turns its dates into strings; the reader turns them back). */
export function announceProviderTemplate(doc: ProviderTemplateDocument): string {
  return JSON.stringify(doc);
}

/** The pub/sub message that asks every mirror to read everything again (after a sync). */
export const reloadProviderTemplates = JSON.stringify({ reload: true });

function readAnnouncement(message: string): ProviderTemplateDocument | 'reload' | undefined {
  try {
    const json = JSON.parse(message) as Record<string, unknown>;
    if (json.reload === true) return 'reload';
    const parsed = providerTemplateDocument.safeParse({
      ...json,
      status_at: new Date(String(json.status_at)),
      quality_at: new Date(String(json.quality_at)),
      last_synced_at: json.last_synced_at ? new Date(String(json.last_synced_at)) : null,
      updated_at: new Date(String(json.updated_at)),
    });
    return parsed.success ? parsed.data : 'reload';
  } catch {
    return 'reload';
  }
}

export interface ProviderTemplateMirrorOptions {
  /** Every provider template (the store's `providerTemplates.list`). */
  loadAll(): Promise<ProviderTemplateDocument[]>;
  /** The pub/sub channel of changes (`channels(prefix).providerTemplates`). */
  channel: string;
  /** How often everything is read again, in ms: the staleness bound of a missed announcement. @defaultValue 30000 */
  refreshMs?: number;
  /** Where a failed reload is reported. */
  onError?: (err: unknown) => void;
}

/**
 * Every provider template's state in memory, so the accept path checks a template's Meta status
 * without waiting on the database (the API accepts with MongoDB down). There are at most a few
 * hundred templates per account. A changed record announced on the channel is applied at once
 * (the writer sends the record it wrote); a sync announces a reload; everything is read again
 * every `refreshMs`, which bounds how stale a process is that missed an announcement.
 */
export class ProviderTemplateMirror {
  readonly #opts: Required<Omit<ProviderTemplateMirrorOptions, 'onError'>> & Pick<ProviderTemplateMirrorOptions, 'onError'>;
  #byKey = new Map<string, ProviderTemplateDocument>();
  readonly #follower = new ChannelFollower();
  #loadedAt = 0;

  constructor(opts: ProviderTemplateMirrorOptions) {
    this.#opts = { refreshMs: 30_000, ...opts };
  }

  /** Loads (a database that does not answer leaves the mirror empty until the next refresh) and follows announcements. Takes `subscriber` over. */
  start(subscriber: RedisConnection): Promise<void> {
    return this.#follower.start(subscriber, {
      ...this.#opts,
      onMessage: (message) => {
        const read = readAnnouncement(message);
        if (read === 'reload') void this.refresh().catch((err) => this.#opts.onError?.(err));
        else if (read) this.apply(read);
      },
      refresh: () => this.refresh(),
    });
  }

  stop(): Promise<void> {
    return this.#follower.stop();
  }

  async refresh(): Promise<void> {
    const docs = await this.#opts.loadAll();
    this.#byKey = new Map(docs.map((d) => [d._id, d]));
    this.#loadedAt = Date.now();
  }

  /** Takes a record just written (by this process or announced by another), unless the mirror holds newer information. */
  apply(doc: ProviderTemplateDocument): void {
    const held = this.#byKey.get(doc._id);
    if (held && held.status_at > doc.status_at && held.quality_at > doc.quality_at) return;
    this.#byKey.set(doc._id, doc);
  }

  /** The template's state as last read; undefined when Herald has never seen it from the provider. Never waits. */
  get(provider: 'meta', name: string, language: string): ProviderTemplateDocument | undefined {
    return this.#byKey.get(providerTemplateKey(provider, name, language));
  }

  /** When everything was last read (0: never). */
  get loadedAt(): number {
    return this.#loadedAt;
  }
}
