const windowMs = 24 * 60 * 60 * 1000;

/**
 * WhatsApp's 24-hour customer-service window as the providers keep it: each number's last
 * inbound message (the time the simulator put in the webhook it posted), per provider. With
 * `enforce` on, a free-form message to a number outside it is refused (Meta 131047, Twilio 63016);
 * off by default, so that tests sending text to numbers that never wrote are unaffected.
 */
export class ServiceWindowBook {
  enforce: boolean;
  readonly #lastInboundMs = new Map<string, number>();

  constructor(enforce: boolean) {
    this.enforce = enforce;
  }

  /** A user's message at `atMs`: the newest one counts. */
  wrote(provider: string, digits: string, atMs: number): void {
    const key = `${provider}:${digits}`;
    this.#lastInboundMs.set(key, Math.max(atMs, this.#lastInboundMs.get(key) ?? 0));
  }

  /** Whether a free-form message to `digits` is refused now. */
  refuses(provider: string, digits: string, nowMs = Date.now()): boolean {
    if (!this.enforce) return false;
    const last = this.#lastInboundMs.get(`${provider}:${digits}`);
    return last === undefined || nowMs >= last + windowMs;
  }

  clear(): void {
    this.#lastInboundMs.clear();
  }
}
