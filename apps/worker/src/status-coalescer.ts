import type { StatusEvent } from '@herald/shared';

type Apply = (events: StatusEvent[]) => Promise<{ applied: StatusEvent[]; unknown: StatusEvent[] }>;

/** What became of one job's events once their batch was written. */
export interface Outcome {
  applied: StatusEvent[];
  unknown: StatusEvent[];
}

/**
 * Gathers the events of the status jobs a worker holds for `windowMs` and hands them to the store
 * as one batch: several webhooks about one message within the window become one write, and events
 * for many messages one batch (how the server takes a batch is the store's business). Each job
 * then learns which of its own events were applied and which matched no message. A window of 0
 * still gathers what arrives in the same turn of the event loop.
 */
export class StatusCoalescer {
  readonly #apply: Apply;
  readonly #windowMs: number;
  readonly #maxEvents: number;
  #pending: { events: StatusEvent[]; resolve(o: Outcome): void; reject(err: unknown): void }[] = [];
  #count = 0;
  #timer: NodeJS.Timeout | undefined;

  /**
   * @param windowMs how long the first event of a batch waits for others (STATUS_COALESCE_MS)
   * @param maxEvents a batch is written at once when it holds this many events. @defaultValue 2000
   */
  constructor(apply: Apply, windowMs: number, maxEvents = 2000) {
    this.#apply = apply;
    this.#windowMs = windowMs;
    this.#maxEvents = maxEvents;
  }

  submit(events: StatusEvent[]): Promise<Outcome> {
    return new Promise<Outcome>((resolve, reject) => {
      this.#pending.push({ events, resolve, reject });
      this.#count += events.length;
      if (this.#count >= this.#maxEvents) this.#flush();
      else this.#timer ??= setTimeout(() => this.#flush(), this.#windowMs);
    });
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#pending;
    this.#pending = [];
    this.#count = 0;
    if (batch.length === 0) return;
    this.#apply(batch.flatMap((b) => b.events)).then(
      ({ applied, unknown }) => {
        const wasApplied = new Set(applied);
        const wasUnknown = new Set(unknown);
        for (const b of batch) {
          b.resolve({ applied: b.events.filter((e) => wasApplied.has(e)), unknown: b.events.filter((e) => wasUnknown.has(e)) });
        }
      },
      (err: unknown) => {
        for (const b of batch) b.reject(err);
      },
    );
  }
}
