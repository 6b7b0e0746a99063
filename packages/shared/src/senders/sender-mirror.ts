import type { Config } from '../config/config.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { ChannelFollower } from '../mirror/channel-follower.ts';
import type { WhatsAppProvider } from '../providers/provider.ts';
import type { RedisConnection } from '../queues/queues.ts';
import { envSender, openSender, providerFor, type ResolvedSender } from './resolve.ts';
import { ENV_SENDER_ID, type SenderDocument } from './senders.ts';

export interface SenderMirrorOptions {
  /** Every stored sender (the store's `senders.list()`). */
  loadAll(): Promise<SenderDocument[]>;
  /** Where a change is announced (`channels(prefix).senders`). */
  channel: string;
  /** Safety net if an announcement was missed, in ms. @defaultValue 30000 */
  refreshMs?: number;
  onError?: (err: unknown) => void;
}

/** Why a message cannot go through the sender it names. */
export type SenderRefusal =
  | { refused: 'unknown'; message: string }
  | { refused: 'forbidden'; message: string }
  | { refused: 'disabled'; message: string };

/** The sender a message goes through: its id and provider. */
export interface ChosenSender {
  id: string;
  provider: ResolvedSender['provider'];
}

/**
 * Every stored sender in memory (a deployment has a handful per tenant), reloaded whenever any
 * process announces a change and every 30 s: choosing a message's sender at accept never waits on
 * the database, and the worker builds each sender's adapter once per version of it. The secrets
 * stay sealed here; `provider()` opens them only to build an adapter.
 */
export class SenderMirror {
  readonly #opts: Required<Omit<SenderMirrorOptions, 'onError'>> & Pick<SenderMirrorOptions, 'onError'>;
  #byId = new Map<string, SenderDocument>();
  #defaults = new Map<string, SenderDocument>();
  #loadedAt = 0;
  #loading: Promise<void> | undefined;
  #adapters = new Map<string, { version: number; provider: WhatsAppProvider; sender: ResolvedSender }>();
  readonly #follower = new ChannelFollower();

  constructor(opts: SenderMirrorOptions) {
    this.#opts = { refreshMs: 30_000, ...opts };
  }

  /** Loads (a database that does not answer leaves it empty until the next refresh) and follows announcements. Takes `subscriber` over. */
  start(subscriber: RedisConnection): Promise<void> {
    return this.#follower.start(subscriber, {
      ...this.#opts,
      onMessage: () => void this.refresh().catch((err) => this.#opts.onError?.(err)),
      refresh: () => this.refresh(),
    });
  }

  stop(): Promise<void> {
    return this.#follower.stop();
  }

  /** Reads every sender again (a read of its own: what a writer needs after its write). */
  async refresh(): Promise<void> {
    const docs = await this.#opts.loadAll();
    this.#byId = new Map(docs.map((d) => [d._id, d]));
    // Each tenant's default: its latest enabled mark (the store clears older marks; one may
    // linger a moment after two admins raced).
    this.#defaults = new Map();
    for (const d of docs) {
      if (!d.default_at || d.disabled) continue;
      const held = this.#defaults.get(d.tenant);
      if (!held || (held.default_at as Date) < d.default_at) this.#defaults.set(d.tenant, d);
    }
    this.#loadedAt = Date.now();
  }

  /**
   * Reads again unless a read finished within the last second, sharing a read in flight: what a
   * lookup of an id the copy does not know does (a sender created a moment ago), so that unknown
   * ids cannot turn every request into a database read.
   */
  refreshUnlessFresh(): Promise<void> {
    if (Date.now() - this.#loadedAt < 1000) return Promise.resolve();
    this.#loading ??= this.refresh().finally(() => {
      this.#loading = undefined;
    });
    return this.#loading;
  }

  /**
   * The sender a message of `tenant` goes through: the one it names (which must be the tenant's
   * own, or the deployment's `env`, and enabled), else the tenant's default, else `env`.
   */
  choose(tenant: string, requested: string | undefined, config: Pick<Config, 'WHATSAPP_PROVIDER'>): ChosenSender | SenderRefusal {
    const env = { id: ENV_SENDER_ID, provider: config.WHATSAPP_PROVIDER };
    if (requested === undefined) {
      const own = this.#defaults.get(tenant);
      return own ? { id: own._id, provider: own.provider } : env;
    }
    if (requested === ENV_SENDER_ID) return env;
    const doc = this.#byId.get(requested);
    if (!doc) return { refused: 'unknown', message: `no sender ${requested}` };
    if (doc.tenant !== tenant) return { refused: 'forbidden', message: `sender ${requested} belongs to another tenant` };
    if (doc.disabled) return { refused: 'disabled', message: `sender ${requested} is disabled` };
    return { id: doc._id, provider: doc.provider };
  }

  /**
   * The adapter that sends as sender `id`, and the sender opened; built once per version of the
   * sender. undefined: no such sender (deleted, or not loaded yet: the caller retries).
   */
  provider(id: string, config: Config, box: SecretBox | undefined): { provider: WhatsAppProvider; sender: ResolvedSender } | undefined {
    const cached = this.#adapters.get(id);
    if (id === ENV_SENDER_ID) {
      if (cached) return cached;
      const sender = envSender(config);
      const built = { version: 0, provider: providerFor(sender, config), sender };
      this.#adapters.set(id, built);
      return built;
    }
    const doc = this.#byId.get(id);
    if (!doc) return undefined;
    if (cached && cached.version === doc.version) return cached;
    if (!box) throw new Error(`sender ${id} is stored encrypted, and SENDER_KEYS is not set in this process`);
    const sender = openSender(doc, box);
    const built = { version: doc.version, provider: providerFor(sender, config), sender };
    this.#adapters.set(id, built);
    return built;
  }

  /** The stored sender `id`, as last read (undefined for `env` and unknown ids). */
  get(id: string): SenderDocument | undefined {
    return this.#byId.get(id);
  }
}
