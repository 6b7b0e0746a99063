import type { Queue } from 'bullmq';
import { Batcher } from '../batch/batcher.ts';
import type { RedisConnection } from './queues.ts';

/** A status webhook's word that the provider took a message: under which id, through which sender. */
export interface AcceptanceProof {
  provider_message_id: string;
  /** The sender whose webhooks brought it: only that sender's send is proved. */
  sender: string;
  /** The provider's timestamp of the event. */
  at: string;
}

/**
 * Proofs of acceptance for sends whose outcome is unknown (issue 14). Every provider echoes
 * Herald's message id in its status webhooks (Meta `biz_opaque_callback_data`, the id in Twilio's
 * StatusCallback URL, MyOperator `myop_ref_id`). Kept here by that id for the send job that waits
 * for one, from two places: the API, the moment a verified webhook arrives (every acceptance event
 * naming a Herald id, kept briefly, so a backlog of status jobs cannot delay a proof), and the
 * status worker (events whose provider id matches no recorded message, kept for days).
 * Redis, not MongoDB: the job lives there, and a proof must get through while the database is away.
 */
export class AcceptanceProofs {
  readonly #redis: RedisConnection;
  readonly #prefix: string;
  readonly #ttlS: number;
  /**
   * Proofs kept in the same turn of the event loop (one per webhook request the API takes) go to
   * Redis as one pipeline: each answers whether a send job is waiting for it.
   */
  readonly #keeps = new Batcher<{ id: string; proof: AcceptanceProof; ttlS: number }, boolean>(async (items) => {
    const pipeline = this.#redis.pipeline();
    for (const { id, proof, ttlS } of items) {
      pipeline.set(this.#proof(id), JSON.stringify(proof), 'EX', ttlS, 'NX');
      pipeline.exists(this.#waiting(id));
    }
    const results = (await pipeline.exec()) ?? [];
    return items.map((_, i) => {
      const [kept, waiting] = [results[i * 2], results[i * 2 + 1]];
      const err = kept?.[0] ?? waiting?.[0];
      return err ? err : waiting?.[1] === 1;
    });
  });

  /** `ttlS`: how long a proof is kept (longer than any wait for it). @defaultValue 7 days */
  constructor(redis: RedisConnection, prefix: string, ttlS = 7 * 24 * 3600) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#ttlS = ttlS;
  }

  #proof(id: string): string {
    return `${this.#prefix}:proof:${id}`;
  }

  #waiting(id: string): string {
    return `${this.#prefix}:awaiting-proof:${id}`;
  }

  /**
   * Keeps the proofs (the first for a message wins: one provider id per message) and returns the
   * ids of those whose send job is waiting for one, so the caller can wake it. One round trip,
   * shared with every other keep of the same event-loop turn.
   */
  async keep(proofs: Map<string, AcceptanceProof>, ttlS = this.#ttlS): Promise<string[]> {
    const entries = [...proofs];
    const waiting = await Promise.all(entries.map(([id, proof]) => this.#keeps.add({ id, proof, ttlS })));
    return entries.filter((_, i) => waiting[i]).map(([id]) => id);
  }

  /** Keeps the proofs (see keep) and wakes the send jobs waiting for one out of BullMQ's delayed set. */
  async keepAndWake(proofs: Map<string, AcceptanceProof>, send: Pick<Queue, 'getJob'>, ttlS = this.#ttlS): Promise<void> {
    for (const id of await this.keep(proofs, ttlS)) {
      const waiting = await send.getJob(id);
      if (waiting && (await waiting.isDelayed())) await waiting.promote().catch(() => undefined);
    }
  }

  /** The proof for message `id`, if a webhook brought one. */
  async get(id: string): Promise<AcceptanceProof | undefined> {
    const raw = await this.#redis.get(this.#proof(id));
    return raw ? (JSON.parse(raw) as AcceptanceProof) : undefined;
  }

  /** Marks message `id`'s send as waiting for a proof, for at most `ms` (and some). */
  async await(id: string, ms: number): Promise<void> {
    await this.#redis.set(this.#waiting(id), '1', 'PX', ms + 60_000);
  }

  /** Forgets message `id`'s proof: it is being sent afresh (a resend), and an old proof proves nothing of that. */
  async forget(id: string): Promise<void> {
    await this.#redis.del(this.#proof(id));
  }

  /** The wait is over (proved, or retried). */
  async done(id: string): Promise<void> {
    await this.#redis.del(this.#waiting(id));
  }
}
