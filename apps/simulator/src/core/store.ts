import { digitsOf } from './phone.ts';

/** One post of one status webhook (a duplicate is its own record). */
export interface WebhookRecord {
  status: string;
  /** Herald answered 2xx to one of the attempts. */
  delivered: boolean;
  attempts: number;
  /** The fault config dropped it: it was never posted. */
  dropped: boolean;
  /** The second post of a duplicated webhook. */
  duplicate: boolean;
  /** Herald's status code, or the network error code, of the last attempt. */
  last_result: number | string | null;
}

export interface MessageRecord {
  id: string;
  provider: string;
  to: string;
  type: string;
  text: string | null;
  template: unknown;
  /** An attachment as posted: Meta's media object of a document/image message, Twilio's MediaUrl values. */
  media?: unknown;
  receivedAtMs: number;
  webhooks: WebhookRecord[];
  /** The number or account it was sent from (Meta phone_number_id, Twilio AccountSid, MyOperator company id). */
  sender?: string;
}

export type RequestOutcome = 'accepted' | 'timeout' | '429' | 'down' | `error:${number}`;

export interface RequestRecord {
  atMs: number;
  provider: string;
  to: string | null;
  outcome: RequestOutcome;
  http_status: number;
  message_id: string | null;
}

interface Counters {
  requests: number;
  accepted: number;
  errors: Record<string, number>;
  http_429: number;
  timeouts: number;
  webhooks: { scheduled: number; sent: number; failed: number; dropped: number; duplicated: number; retried: number };
}

/**
 * What the simulator received and did, bounded so a long benchmark cannot exhaust memory: past
 * `maxRecords` the oldest messages and requests are forgotten (counters keep counting).
 */
export class Store {
  readonly #max: number;
  // A Map iterates in insertion order, so its first key is always the oldest message.
  readonly #messages = new Map<string, MessageRecord>();
  // A ring buffer: Array#shift on 100k entries would move them all on every request.
  readonly #requests: Array<RequestRecord | undefined>;
  #requestsNext = 0;
  #requestsSize = 0;
  counters: Counters = newCounters();

  constructor(maxRecords: number) {
    this.#max = maxRecords;
    this.#requests = new Array(maxRecords);
  }

  addMessage(message: MessageRecord): void {
    this.#messages.set(message.id, message);
    this.counters.accepted++;
    if (this.#messages.size > this.#max) {
      const oldest = this.#messages.keys().next().value;
      if (oldest !== undefined) this.#messages.delete(oldest);
    }
  }

  addRequest(request: RequestRecord): void {
    this.#requests[this.#requestsNext] = request;
    this.#requestsNext = (this.#requestsNext + 1) % this.#max;
    if (this.#requestsSize < this.#max) this.#requestsSize++;
    this.counters.requests++;
    if (request.outcome === '429') this.counters.http_429++;
    else if (request.outcome === 'timeout') this.counters.timeouts++;
    else if (request.outcome !== 'accepted') {
      const code = request.outcome.slice('error:'.length);
      this.counters.errors[code] = (this.counters.errors[code] ?? 0) + 1;
    }
  }

  getMessage(id: string): MessageRecord | undefined {
    return this.#messages.get(id);
  }

  /** Oldest first; `to` compares digits only, so `+91…`, `91…` and a `+` decoded to a space all match. */
  messages(to?: string): MessageRecord[] {
    const all = [...this.#messages.values()];
    if (to === undefined) return all;
    const digits = digitsOf(to);
    return all.filter((message) => digitsOf(message.to) === digits);
  }

  requests(to?: string): RequestRecord[] {
    const out: RequestRecord[] = [];
    const start = (this.#requestsNext - this.#requestsSize + this.#max) % this.#max;
    for (let i = 0; i < this.#requestsSize; i++) {
      const request = this.#requests[(start + i) % this.#max];
      if (request) out.push(request);
    }
    if (to === undefined) return out;
    const digits = digitsOf(to);
    return out.filter((request) => request.to !== null && digitsOf(request.to) === digits);
  }

  clear(): void {
    this.#messages.clear();
    this.#requests.fill(undefined);
    this.#requestsNext = 0;
    this.#requestsSize = 0;
    this.counters = newCounters();
  }
}

function newCounters(): Counters {
  return {
    requests: 0,
    accepted: 0,
    errors: {},
    http_429: 0,
    timeouts: 0,
    webhooks: { scheduled: 0, sent: 0, failed: 0, dropped: 0, duplicated: 0, retried: 0 },
  };
}
