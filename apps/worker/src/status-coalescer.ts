import type { StatusEvent } from '@herald/shared';

type Apply = (events: StatusEvent[]) => Promise<{ applied: StatusEvent[]; unknown: StatusEvent[] }>;

/** What became of one job's events once they were written. */
export interface Outcome {
  applied: StatusEvent[];
  unknown: StatusEvent[];
}

/** One job's events, waiting for every group they joined to be written. */
interface Submission {
  events: StatusEvent[];
  own: Set<StatusEvent>;
  /** Groups of this submission not written yet. */
  waiting: number;
  applied: Set<StatusEvent>;
  unknown: Set<StatusEvent>;
  failed: boolean;
  resolve(o: Outcome): void;
  reject(err: unknown): void;
}

/** The events for one message gathered so far, written together once `due`. */
interface Group {
  events: StatusEvent[];
  due: number;
  submissions: Set<Submission>;
}

/**
 * Gathers status events per message: the first event for a message opens its window
 * (`windowMs`, STATUS_COALESCE_MS), every event for it that arrives before the window closes joins
 * it, and the message's events become one write. Windows are the messages' own, not one clock for
 * all: sent, delivered and read a few ms apart are one write wherever they fall. When windows
 * close, every message whose window closes within the next tenth of a window goes with them as one
 * batch to the store (how the server takes a batch is the store's business). Each job learns, once
 * all its events are written, which were applied and which matched no message. A window of 0 still
 * gathers what arrives in the same turn of the event loop.
 */
export class StatusCoalescer {
  readonly #apply: Apply;
  readonly #windowMs: number;
  readonly #maxEvents: number;
  /** Open groups by provider message id; in the order they opened, which is the order they are due. */
  #groups = new Map<string, Group>();
  #count = 0;
  #timer: NodeJS.Timeout | undefined;

  /**
   * @param windowMs how long a message's first event waits for others (STATUS_COALESCE_MS)
   * @param maxEvents every open group is written at once when they hold this many events. @defaultValue 2000
   */
  constructor(apply: Apply, windowMs: number, maxEvents = 2000) {
    this.#apply = apply;
    this.#windowMs = windowMs;
    this.#maxEvents = maxEvents;
  }

  submit(events: StatusEvent[]): Promise<Outcome> {
    return new Promise<Outcome>((resolve, reject) => {
      const sub: Submission = {
        events,
        own: new Set(events),
        waiting: 0,
        applied: new Set(),
        unknown: new Set(),
        failed: false,
        resolve,
        reject,
      };
      const now = Date.now();
      for (const event of events) {
        let group = this.#groups.get(event.provider_message_id);
        if (!group) {
          group = { events: [], due: now + this.#windowMs, submissions: new Set() };
          this.#groups.set(event.provider_message_id, group);
        }
        group.events.push(event);
        if (!group.submissions.has(sub)) {
          group.submissions.add(sub);
          sub.waiting += 1;
        }
      }
      this.#count += events.length;
      if (sub.waiting === 0) resolve({ applied: [], unknown: [] });
      else if (this.#count >= this.#maxEvents) this.#flush(Number.POSITIVE_INFINITY);
      else this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#timer) return;
    const first = this.#groups.values().next();
    if (first.done) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#flush(Date.now() + this.#windowMs / 10);
        this.#schedule();
      },
      Math.max(0, first.value.due - Date.now()),
    );
  }

  /** Writes every group due by `until` as one batch. */
  #flush(until: number): void {
    // A timer still set for groups flushed here finds nothing due, and schedules the next.
    const batch: Group[] = [];
    for (const [id, group] of this.#groups) {
      if (group.due > until) break;
      batch.push(group);
      this.#groups.delete(id);
      this.#count -= group.events.length;
    }
    if (batch.length === 0) return;
    this.#apply(batch.flatMap((g) => g.events)).then(
      ({ applied, unknown }) => {
        const wasApplied = new Set(applied);
        const wasUnknown = new Set(unknown);
        for (const group of batch) {
          for (const sub of group.submissions) {
            for (const e of group.events) {
              if (!sub.own.has(e)) continue;
              if (wasApplied.has(e)) sub.applied.add(e);
              if (wasUnknown.has(e)) sub.unknown.add(e);
            }
            this.#done(sub);
          }
        }
      },
      (err: unknown) => {
        for (const group of batch) {
          for (const sub of group.submissions) {
            if (!sub.failed) sub.reject(err);
            sub.failed = true;
          }
        }
      },
    );
  }

  #done(sub: Submission): void {
    sub.waiting -= 1;
    if (sub.waiting > 0 || sub.failed) return;
    sub.resolve({
      applied: sub.events.filter((e) => sub.applied.has(e)),
      unknown: sub.events.filter((e) => sub.unknown.has(e)),
    });
  }
}
