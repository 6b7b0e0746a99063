import type { RedisConnection } from '../queues/queues.ts';

export interface FollowOptions {
  /** The pub/sub channel whose announcements concern this copy. */
  channel: string;
  /** Handles one announcement on the channel (apply what it carries, or reload). */
  onMessage(message: string): void;
  /** Reads everything again: at start, and every `refreshMs`. */
  refresh(): Promise<void>;
  /** The staleness bound of a copy that missed an announcement (Redis away), in ms. */
  refreshMs: number;
  /** Where a failed reload is reported. */
  onError?: ((err: unknown) => void) | undefined;
}

/**
 * What every in-memory copy of stored records does to stay current (preferences, provider
 * templates, senders): subscribe to its channel, load everything once (a database that does not
 * answer leaves the copy empty until the next refresh: start never fails on it), then read
 * everything again every `refreshMs`. Takes the subscriber connection over and quits it at stop.
 */
export class ChannelFollower {
  #timer: NodeJS.Timeout | undefined;
  #subscriber: RedisConnection | undefined;

  async start(subscriber: RedisConnection, opts: FollowOptions): Promise<void> {
    this.#subscriber = subscriber;
    const refresh = () => opts.refresh().catch((err) => opts.onError?.(err));
    subscriber.on('message', (ch: string, message: string) => {
      if (ch === opts.channel) opts.onMessage(message);
    });
    await subscriber.subscribe(opts.channel);
    await refresh();
    this.#timer = setInterval(() => void refresh(), opts.refreshMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#subscriber?.quit().catch(() => undefined);
  }
}
