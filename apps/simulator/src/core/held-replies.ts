/**
 * Waits that hold a send's answer (latency and timeout faults). They are tracked so that reset and
 * close can release them at once: a 30 s timeout fault would otherwise keep the server from
 * closing for 30 s.
 */
export class HeldReplies {
  readonly #pending = new Map<NodeJS.Timeout, () => void>();

  hold(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(timer);
        resolve();
      }, ms);
      this.#pending.set(timer, resolve);
    });
  }

  releaseAll(): void {
    for (const [timer, resolve] of this.#pending) {
      clearTimeout(timer);
      resolve();
    }
    this.#pending.clear();
  }
}
