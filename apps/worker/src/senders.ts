import type { WhatsAppProvider } from '@herald/shared';

/** The id of the deployment's own sender, built from the environment (a job without `sender` uses it). */
export const DEFAULT_SENDER_ID = 'env';

/** What the send processor needs of a sender: who it is, its pace, and the adapter that sends as it. */
export interface SendingSender {
  id: string;
  /** Messages per second across all workers, 1..1000 (Meta's tier for that number). */
  mps: number;
  provider: WhatsAppProvider;
  /** The sender that carries its messages while its circuit breaker is open (issue 14). */
  fallback?: string | undefined;
}

/**
 * Sender ids to senders. The deployment's sender registry implements it (opening the stored
 * credentials); `undefined` means no such sender (the job fails permanently, `sender_unknown`).
 * Called once per send attempt: an implementation keeps its own cache.
 */
export interface SenderResolver {
  resolve(id: string): Promise<SendingSender | undefined>;
}

/**
 * The environment's sender (`env`, at PROVIDER_MPS) plus senders registered in code: what the
 * worker uses until a registry is wired in, and how tests add senders (two Meta numbers against
 * the simulator, say).
 */
export class StaticSenders implements SenderResolver {
  readonly #senders = new Map<string, SendingSender>();

  constructor(defaultSender: Omit<SendingSender, 'id'> & { id?: string }) {
    this.register({ ...defaultSender, id: defaultSender.id ?? DEFAULT_SENDER_ID });
  }

  register(sender: SendingSender): this {
    if (!(Number.isInteger(sender.mps) && sender.mps >= 1)) {
      throw new Error(`sender ${sender.id}: mps must be a whole number of at least 1 (got ${sender.mps})`);
    }
    this.#senders.set(sender.id, sender);
    return this;
  }

  async resolve(id: string): Promise<SendingSender | undefined> {
    return this.#senders.get(id);
  }
}
