import type { RedisConnection } from '../queues/queues.ts';
import type { TemplateDocument } from './defaults.ts';
import { type CompiledTemplate, TemplateCache } from './renderer.ts';

/** Where templates come from (the store's `templates`): the cache only ever lists them all. */
export interface TemplateSource {
  list(): Promise<TemplateDocument[]>;
}

export interface TemplateStoreOptions {
  /** Safety net if a pub/sub message was missed, in ms. @defaultValue 30000 */
  refreshMs?: number;
  /** Least time between two reloads caused by unknown types, in ms. @defaultValue 1000 */
  minReloadMs?: number;
}

/**
 * All templates in memory (there are a handful), reloaded when any process announces a change on
 * the templates channel. Change streams would do this on MongoDB but FerretDB has none.
 */
export class TemplateStore {
  readonly #source: TemplateSource;
  readonly #cache = new TemplateCache();
  readonly #opts: Required<TemplateStoreOptions>;
  #byType = new Map<string, TemplateDocument>();
  #loadedAt = 0;
  #loading: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #subscriber: RedisConnection | undefined;

  constructor(source: TemplateSource, opts: TemplateStoreOptions = {}) {
    this.#source = source;
    this.#opts = { refreshMs: 30_000, minReloadMs: 1000, ...opts };
  }

  /** Loads now and reloads whenever `channel` announces a change. */
  async start(subscriber?: RedisConnection, channel?: string): Promise<void> {
    await this.reload();
    if (subscriber && channel) {
      this.#subscriber = subscriber;
      await subscriber.subscribe(channel);
      subscriber.on('message', (ch: string) => {
        if (ch === channel) void this.reload().catch(() => undefined);
      });
    }
    this.#timer = setInterval(() => void this.reload().catch(() => undefined), this.#opts.refreshMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    if (this.#subscriber) await this.#subscriber.quit().catch(() => undefined);
  }

  reload(): Promise<void> {
    this.#loading ??= (async () => {
      try {
        const docs = await this.#source.list();
        this.#byType = new Map(docs.map((d) => [d.type, d]));
        this.#loadedAt = Date.now();
      } finally {
        this.#loading = undefined;
      }
    })();
    return this.#loading;
  }

  /** The template of `type`, or undefined; an unknown type triggers at most one reload a second. */
  async get(type: string): Promise<TemplateDocument | undefined> {
    if (this.#loadedAt === 0) await this.reload();
    const doc = this.#byType.get(type);
    if (doc || Date.now() - this.#loadedAt < this.#opts.minReloadMs) return doc;
    await this.reload();
    return this.#byType.get(type);
  }

  async list(): Promise<TemplateDocument[]> {
    if (this.#loadedAt === 0) await this.reload();
    return [...this.#byType.values()].sort((a, b) => a.type.localeCompare(b.type));
  }

  /** Compiled once per (type, version). */
  compiled(doc: TemplateDocument): CompiledTemplate {
    return this.#cache.get(doc.type, doc.version, doc.content, doc.variables);
  }
}
