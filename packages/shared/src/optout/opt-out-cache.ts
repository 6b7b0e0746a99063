import type { SettingsDocument } from '../messages/record.ts';
import type { RedisConnection } from '../queues/queues.ts';

/** What sending needs to know of a recipient: opted out, and which message types they turned off. */
export type Preferences = Pick<SettingsDocument, 'opted_out' | 'disabled_types'>;

/**
 * Why a message of `messageType` must not go to a recipient with these preferences (the detail of
 * its `suppressed` event), or null when it may. One wording for the API's check and the worker's.
 */
export function suppressionReason(prefs: Preferences | null, messageType: string): string | null {
  if (prefs?.opted_out === true) return 'recipient opted out';
  if (prefs?.disabled_types?.includes(messageType) === true) return `recipient turned off ${messageType} messages`;
  return null;
}

/**
 * Tells every process that `phone`'s preferences changed (each OptOutCache drops its copy, the
 * API's PreferencesMirror takes `prefs` as they are now — or reloads them when not given). Call it
 * right after the write, never before: a process that reloads on the announcement must read the
 * new value. The message is the phone, then a tab and the preferences as JSON when given (`null`:
 * the recipient has none any more).
 */
export async function announcePreferencesChanged(
  publisher: RedisConnection,
  channel: string,
  phone: string,
  prefs?: Preferences | null,
): Promise<void> {
  await publisher.publish(
    channel,
    prefs === undefined
      ? phone
      : `${phone}\t${JSON.stringify(prefs && { opted_out: prefs.opted_out, disabled_types: prefs.disabled_types ?? [] })}`,
  );
}

/** An announcement read back: the phone, and its preferences when the writer sent them. */
export function readAnnouncement(message: string): { phone: string; prefs?: Preferences | null } {
  const tab = message.indexOf('\t');
  if (tab < 0) return { phone: message };
  try {
    return { phone: message.slice(0, tab), prefs: JSON.parse(message.slice(tab + 1)) as Preferences | null };
  } catch {
    return { phone: message.slice(0, tab) };
  }
}

export interface OptOutCacheOptions {
  /** Loads one recipient's preferences, null when they have none (the store's `settings.preferencesFor`). */
  load(phone: string): Promise<Preferences | null>;
  /** The pub/sub channel of changes (`channels(prefix).preferences`). */
  channel: string;
  /** Where `invalidate` announces a change to every process; without it `invalidate` is local. */
  publisher?: RedisConnection | undefined;
  /**
   * How long an entry is trusted, in ms: the staleness bound of a process that missed an
   * announcement (Redis away). 0 caches nothing. @defaultValue 30000
   */
  ttlMs?: number;
  /** Recipients kept; beyond it the oldest entry goes. @defaultValue 100000 */
  maxEntries?: number;
}

/**
 * Recipients' preferences in memory, so that every send can re-check opt-out just before calling
 * the provider without a database round trip. Recipients without settings are remembered too
 * (most have none). A change is announced on a Redis channel and every process drops its copy at
 * once; the TTL only bounds what a process that missed the announcement serves, and a reconnect
 * of the subscriber drops everything (announcements may have been missed while it was away).
 *
 * The worker's send path uses it (the API's accept path has its own PreferencesMirror on the same
 * channel). Whoever writes a recipient's preferences announces it right after the write:
 * `invalidate(phone)`, or `announcePreferencesChanged` in a process that holds no cache.
 */
export class OptOutCache {
  readonly #opts: Required<Omit<OptOutCacheOptions, 'publisher'>> & Pick<OptOutCacheOptions, 'publisher'>;
  readonly #entries = new Map<string, { prefs: Preferences | null; until: number }>();
  /** Loads in flight, shared by concurrent gets of one phone; an invalidation forgets its load. */
  readonly #loading = new Map<string, Promise<Preferences | null>>();
  #subscriber: RedisConnection | undefined;

  constructor(opts: OptOutCacheOptions) {
    this.#opts = { ttlMs: 30_000, maxEntries: 100_000, ...opts };
    const { ttlMs, maxEntries } = this.#opts;
    if (!Number.isInteger(ttlMs) || ttlMs < 0) throw new RangeError(`OptOutCache: ttlMs must be an integer ≥ 0, got ${ttlMs}`);
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError(`OptOutCache: maxEntries must be a positive integer, got ${maxEntries}`);
    }
  }

  /** Listens for changes announced by any process. Takes `subscriber` over (`stop` quits it). */
  async start(subscriber: RedisConnection): Promise<void> {
    const { channel } = this.#opts;
    this.#subscriber = subscriber;
    let subscribed = false;
    subscriber.on('message', (ch: string, phone: string) => {
      if (ch === channel) this.#drop(readAnnouncement(phone).phone);
    });
    // ioredis subscribes again after a reconnect; what was announced meanwhile is lost.
    subscriber.on('ready', () => {
      if (subscribed) this.clear();
    });
    await subscriber.subscribe(channel);
    subscribed = true;
  }

  async stop(): Promise<void> {
    this.clear();
    await this.#subscriber?.quit().catch(() => undefined);
    this.#subscriber = undefined;
  }

  /** The recipient's preferences (null: none set), from memory when fresh. Rejects when the load does. */
  get(phone: string): Promise<Preferences | null> {
    const hit = this.#entries.get(phone);
    if (hit && hit.until > Date.now()) return Promise.resolve(hit.prefs);
    const pending = this.#loading.get(phone);
    if (pending) return pending;
    const load: Promise<Preferences | null> = this.#opts.load(phone).then(
      (prefs) => {
        // A change announced while this load was in flight may not be in what it read: not kept.
        if (this.#loading.get(phone) === load) {
          this.#loading.delete(phone);
          this.#remember(phone, prefs);
        }
        return prefs;
      },
      (err: unknown) => {
        if (this.#loading.get(phone) === load) this.#loading.delete(phone);
        throw err;
      },
    );
    this.#loading.set(phone, load);
    return load;
  }

  /**
   * Drops `phone` here and announces the change to every process (call it after the write), with
   * the preferences as written when the caller has them.
   */
  async invalidate(phone: string, prefs?: Preferences | null): Promise<void> {
    this.#drop(phone);
    if (this.#opts.publisher) await announcePreferencesChanged(this.#opts.publisher, this.#opts.channel, phone, prefs);
  }

  /** Forgets everything (the next get of each phone loads again). */
  clear(): void {
    this.#entries.clear();
    this.#loading.clear();
  }

  /** Recipients held now (for tests and a sense of memory use). */
  get size(): number {
    return this.#entries.size;
  }

  #drop(phone: string): void {
    this.#entries.delete(phone);
    this.#loading.delete(phone);
  }

  #remember(phone: string, prefs: Preferences | null): void {
    if (this.#opts.ttlMs === 0) return;
    this.#entries.delete(phone);
    if (this.#entries.size >= this.#opts.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(phone, { prefs, until: Date.now() + this.#opts.ttlMs });
  }
}
