/**
 * The queue-wide pause after a throttling answer without Retry-After: 1 s, doubling while the
 * provider keeps throttling, at most 60 s; back to 1 s after a success (SPEC 4).
 */
export class ThrottleBackoff {
  #current = 0;
  readonly #min: number;
  readonly #max: number;
  constructor(minMs = 1000, maxMs = 60_000) {
    this.#min = minMs;
    this.#max = maxMs;
  }
  next(): number {
    this.#current = this.#current === 0 ? this.#min : Math.min(this.#current * 2, this.#max);
    return this.#current;
  }
  reset(): void {
    this.#current = 0;
  }
}
