import { ChannelFollower } from '../mirror/channel-follower.ts';
import type { RedisConnection } from '../queues/queues.ts';
import { type Preferences, readAnnouncement } from './opt-out-cache.ts';

export interface PreferencesMirrorOptions {
  /** Every recipient who has preferences (the store's `settings.all`). */
  loadAll(): Promise<Map<string, Preferences>>;
  /** One recipient's preferences, null when none (the store's `settings.preferencesFor`). */
  loadOne(phone: string): Promise<Preferences | null>;
  /** The pub/sub channel of changes (`channels(prefix).preferences`). */
  channel: string;
  /** How often the whole mirror is read again, in ms: the staleness bound. @defaultValue 30000 */
  refreshMs?: number;
  /** Where a failed reload is reported. */
  onError?: (err: unknown) => void;
}

/**
 * Every recipient's preferences in memory, so that accepting a message never waits on the
 * database (SPEC 1: the API answers from Redis alone). Only recipients who set something are held
 * (an opt-out or a disabled type; about 100 bytes each). A change announced on the preferences
 * channel reloads that recipient at once; the whole mirror is read again every `refreshMs`, which
 * bounds how stale a process can be that missed an announcement (Redis away) or started while the
 * database was. The answer at accept is a courtesy (a `suppressed` reply); the worker re-checks
 * every send just before calling the provider, so a stale mirror never lets a message through.
 */
export class PreferencesMirror {
  readonly #opts: Required<Omit<PreferencesMirrorOptions, 'onError'>> & Pick<PreferencesMirrorOptions, 'onError'>;
  #byPhone = new Map<string, Preferences>();
  readonly #follower = new ChannelFollower();
  #loadedAt = 0;

  constructor(opts: PreferencesMirrorOptions) {
    this.#opts = { refreshMs: 30_000, ...opts };
  }

  /**
   * Loads everything (a database that does not answer leaves the mirror empty until the next
   * refresh: start never fails on it) and follows announced changes. Takes `subscriber` over.
   */
  start(subscriber: RedisConnection): Promise<void> {
    return this.#follower.start(subscriber, {
      ...this.#opts,
      onMessage: (message) => {
        const { phone, prefs } = readAnnouncement(message);
        // The writer sent what it wrote: applied at once, so a send right after a START is not refused.
        if (prefs !== undefined) this.#set(phone, prefs);
        else void this.#reload(phone);
      },
      refresh: () => this.refresh(),
    });
  }

  stop(): Promise<void> {
    return this.#follower.stop();
  }

  /** Reads every recipient's preferences again. */
  async refresh(): Promise<void> {
    this.#byPhone = await this.#opts.loadAll();
    this.#loadedAt = Date.now();
  }

  /** The recipient's preferences as last read, null when they have none. Never waits. */
  get(phone: string): Preferences | null {
    return this.#byPhone.get(phone) ?? null;
  }

  /** When the whole mirror was last read (0: never). */
  get loadedAt(): number {
    return this.#loadedAt;
  }

  async #reload(phone: string): Promise<void> {
    try {
      this.#set(phone, await this.#opts.loadOne(phone));
    } catch (err) {
      this.#opts.onError?.(err);
    }
  }

  #set(phone: string, prefs: Preferences | null): void {
    if (prefs && (prefs.opted_out || (prefs.disabled_types?.length ?? 0) > 0)) this.#byPhone.set(phone, prefs);
    else this.#byPhone.delete(phone);
  }
}
