/**
 * Coalesces single operations that arrive in the same turn of the event loop into one bulk call
 * (insertMany, find with $in, …): under load 50 concurrent requests cost one database round trip
 * instead of 50, and an idle process adds no wait (the flush runs on setImmediate, not a timer).
 * `run` answers one result per item, in order; an Error in a slot rejects that item alone, and a
 * throw rejects the whole batch.
 */
export class Batcher<I, O> {
  readonly #run: (items: I[]) => Promise<(O | Error)[]>;
  readonly #maxSize: number;
  #pending: { item: I; resolve(o: O): void; reject(e: unknown): void }[] = [];
  #scheduled = false;

  constructor(run: (items: I[]) => Promise<(O | Error)[]>, opts: { maxSize?: number } = {}) {
    this.#run = run;
    this.#maxSize = opts.maxSize ?? 200;
  }

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#pending.push({ item, resolve, reject });
      if (this.#pending.length >= this.#maxSize) this.#flush();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const batch = this.#pending;
    if (batch.length === 0) return;
    this.#pending = [];
    this.#run(batch.map((b) => b.item)).then(
      (results) => {
        for (const [i, b] of batch.entries()) {
          const r = results[i];
          if (r instanceof Error) b.reject(r);
          else b.resolve(r as O);
        }
      },
      (err) => {
        for (const b of batch) b.reject(err);
      },
    );
  }
}
