import {
  type AcceptanceProof,
  type AcceptanceProofs,
  type EmitCallback,
  ENV_SENDER_ID,
  type InboundJob,
  inboundJobOptions,
  jobNames,
  type SendJob,
  type StatusEvent,
  type StatusJob,
  statusJob,
  statusUpdates,
} from '@herald/shared';
import type { Store } from '@herald/store';
import { type Job, type Queue, UnrecoverableError } from 'bullmq';
import type { Logger } from 'pino';
import { StatusCoalescer } from '../status-coalescer.ts';

export interface StatusDeps {
  /** History: applies the events along the ladder and keeps the orphans. */
  store: Store;
  log: Logger;
  /** Where inbound messages found in a status job (queued by an earlier release's API) go. */
  inbound: Queue<InboundJob>;
  /** Queues a callback per status change of a message with a callback_url; never throws. */
  emitCallback?: EmitCallback;
  /** How long events wait for others about the same messages before one write, in ms (STATUS_COALESCE_MS). */
  coalesceMs?: number;
  /** Where events that name a Herald id but match no recorded send are kept as proofs of acceptance. */
  proofs: AcceptanceProofs;
  /** The send queue: a send job waiting for such a proof is woken when one arrives. */
  send: Queue<SendJob>;
}

/** The first proof per Herald id among events no recorded message matched. */
function proofsOf(events: StatusEvent[]): Map<string, AcceptanceProof> {
  const proofs = new Map<string, AcceptanceProof>();
  for (const ev of events) {
    if (!ev.herald_id || proofs.has(ev.herald_id)) continue;
    proofs.set(ev.herald_id, { provider_message_id: ev.provider_message_id, sender: ev.sender ?? ENV_SENDER_ID, at: ev.at });
  }
  return proofs;
}

/**
 * Applies one webhook request's events: the store folds each message's events into one write
 * along the ladder (SPEC 3/4) and says which status changes it wrote, which become callbacks, in
 * the order written. A read that also delivers (no `delivered` came first) is two changes for the
 * receiver: delivered, then read. Events for provider ids not (yet) recorded are retried by the
 * job's backoff — the webhook can beat the worker's history write — and kept as orphans on the
 * last attempt.
 */
export function createStatusProcessor(deps: StatusDeps) {
  const { store, log } = deps;
  // One batch for the events of every job held within the window (see StatusCoalescer). Callbacks
  // are queued while the batch's messages are still held, so their sequence follows the writes.
  const coalescer = new StatusCoalescer(
    (events) =>
      store.messages.applyStatusEvents(events, async (changes) => {
        for (const change of changes) {
          if (change.delivered_at) await deps.emitCallback?.(change.message, 'delivered', change.delivered_at);
          await deps.emitCallback?.(change.message, change.status, change.at, change.error);
        }
      }),
    deps.coalesceMs ?? 100,
  );

  /**
   * Inbound messages are the inbound queue's (opt-out first, see processors/inbound.ts); a status
   * job of an earlier release may still carry some. Same job id as this one: forwarded once.
   */
  async function forwardInbound(job: Job<StatusJob>, data: StatusJob): Promise<void> {
    const forwarded: InboundJob = {
      v: 1,
      provider: data.provider,
      ...(data.sender ? { sender: data.sender } : {}),
      received_at: data.received_at,
      messages: data.inbound,
    };
    await deps.inbound.add(jobNames.inbound, forwarded, inboundJobOptions(String(job.id)));
  }

  return async function processStatus(job: Job<StatusJob>): Promise<{ applied: number; orphans: number }> {
    const parsed = statusJob.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError('job payload is not a v1 status job');
    const data = parsed.data;
    if (data.inbound.length > 0) await forwardInbound(job, data);
    if (data.statuses.length === 0) return { applied: 0, orphans: 0 };

    // Each event carries the sender whose webhook brought it: the store applies it only to that
    // sender's message (senderOwns), so nothing crosses from one tenant's number to another's.
    const sender = data.sender ?? ENV_SENDER_ID;
    const { applied, unknown } = await coalescer.submit(data.statuses.map((ev) => ({ ...ev, sender })));
    for (const ev of applied) statusUpdates.inc({ provider: data.provider, status: ev.status });

    if (unknown.length > 0) {
      // A send whose answer was lost may be waiting for exactly this: the provider's word that it
      // took the message (issue 14). Kept by Herald id; a waiting job is woken at once.
      const proofs = proofsOf(unknown);
      await deps.proofs.keepAndWake(proofs, deps.send);
      // One whose message already failed for want of it: from the second retry on (by then a
      // webhook that only beat the worker's history write has found its message), the provider's
      // word moves it to sent under this id, and the next retry applies the events to it.
      if (job.attemptsMade >= 2) {
        for (const [id, proof] of proofs) {
          if (await store.messages.adoptLateProof(id, { ...proof, provider: data.provider, at: new Date(proof.at) })) {
            log.info({ id }, 'a message that failed with an unknown outcome was proved sent by a late webhook');
          }
        }
      }
      const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (!lastAttempt) throw new Error(`${unknown.length} event(s) for unknown provider ids; retrying`);
      await store.orphans.keep(
        data.provider,
        new Date(data.received_at),
        unknown.map((event, i) => ({ id: `${job.id}:${i}`, event })),
      );
      log.warn({ orphans: unknown.length }, 'status events kept as orphans: no message has their provider id');
    }
    return { applied: data.statuses.length - unknown.length, orphans: unknown.length };
  };
}
