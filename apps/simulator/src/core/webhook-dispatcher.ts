import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { FastifyBaseLogger } from 'fastify';
import { type PostAnswer, PostError, post } from './http-post.ts';
import type { Store, WebhookRecord } from './store.ts';

/** A webhook ready to go: the exact bytes that were signed, and the headers carrying the signature. */
export interface OutgoingWebhook {
  url: string;
  body: string;
  headers: Record<string, string>;
}

export interface DispatcherOptions {
  /** Timeout of one POST, in ms. */
  timeoutMs: number;
  /** Attempts per webhook, the first included. */
  maxAttempts: number;
  /** Backoff before the first retry, in ms; doubles on each further retry. */
  retryBaseMs: number;
  /** Most connections open at once per origin; further posts queue. */
  maxSockets: number;
}

/**
 * Posts webhooks on timers, provider-neutral: providers build the signed body at the moment it is
 * due (its timestamp is the status's time) and this class delivers it, retrying failures with
 * backoff the way providers do, and records each attempt.
 */
export class WebhookDispatcher {
  readonly #store: Store;
  readonly #options: DispatcherOptions;
  readonly #log: FastifyBaseLogger;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #agents: { http: HttpAgent; https: HttpsAgent };
  // Bumped by cancelAll(): answers to posts made before a reset must not count after it.
  #generation = 0;

  constructor(store: Store, options: DispatcherOptions, log: FastifyBaseLogger) {
    this.#store = store;
    this.#options = options;
    this.#log = log;
    this.#agents = {
      http: new HttpAgent({ keepAlive: true, maxSockets: options.maxSockets }),
      https: new HttpsAgent({ keepAlive: true, maxSockets: options.maxSockets }),
    };
  }

  /**
   * Posts `build()` after `delayMs`, once per record (two records make a duplicate: the same bytes
   * posted twice), retrying failures; each record is updated as its attempts finish.
   */
  schedule(delayMs: number, records: WebhookRecord[], build: () => OutgoingWebhook): void {
    this.#store.counters.webhooks.scheduled += records.length;
    const generation = this.#generation;
    this.#after(delayMs, () => {
      const webhook = build();
      for (const record of records) this.#attempt(record, webhook, generation);
    });
  }

  /** One attempt, no retries, Herald's answer read: for control-API posts. Rejects with PostError. */
  postOnce(webhook: OutgoingWebhook): Promise<PostAnswer> {
    return this.#post(webhook, true);
  }

  /** Forgets every pending post and retry (reset); posts already in flight finish uncounted. */
  cancelAll(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#generation++;
  }

  close(): void {
    this.cancelAll();
    this.#agents.http.destroy();
    this.#agents.https.destroy();
  }

  #post(webhook: OutgoingWebhook, readBody: boolean): Promise<PostAnswer> {
    return post(webhook.url, webhook.body, webhook.headers, { agents: this.#agents, timeoutMs: this.#options.timeoutMs, readBody });
  }

  #after(delayMs: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      run();
    }, delayMs);
    this.#timers.add(timer);
  }

  #attempt(record: WebhookRecord, webhook: OutgoingWebhook, generation: number): void {
    record.attempts++;
    this.#post(webhook, false).then(
      (answer) => this.#settle(record, webhook, generation, answer.status >= 200 && answer.status < 300, answer.status),
      (error: unknown) => this.#settle(record, webhook, generation, false, error instanceof PostError ? error.code : 'ERROR'),
    );
  }

  #settle(record: WebhookRecord, webhook: OutgoingWebhook, generation: number, ok: boolean, result: number | string): void {
    if (generation !== this.#generation) return;
    record.last_result = result;
    const counters = this.#store.counters.webhooks;
    if (ok) {
      record.delivered = true;
      counters.sent++;
      return;
    }
    if (record.attempts >= this.#options.maxAttempts) {
      counters.failed++;
      this.#log.warn({ url: webhook.url, status: record.status, result, attempts: record.attempts }, 'webhook delivery failed');
      return;
    }
    counters.retried++;
    const backoffMs = this.#options.retryBaseMs * 2 ** (record.attempts - 1);
    this.#after(backoffMs, () => this.#attempt(record, webhook, generation));
  }
}
