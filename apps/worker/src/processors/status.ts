import {
  type EmitCallback,
  type InboundMessage,
  maskPhone,
  normalizePhone,
  type StatusJob,
  statusJob,
  statusUpdates,
} from '@herald/shared';
import type { Store } from '@herald/store';
import { type Job, UnrecoverableError } from 'bullmq';
import type { Logger } from 'pino';

export interface StatusDeps {
  /** History: applies the events along the ladder and keeps the orphans. */
  store: Store;
  log: Logger;
  defaultCountry: string;
  /** Queues a callback per status change of a message with a callback_url; never throws. */
  emitCallback?: EmitCallback;
}

const optOut = /^\s*(stop|unsubscribe)\s*$/i;
const optIn = /^\s*start\s*$/i;

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

  async function applyInbound(provider: string, inbound: InboundMessage[]): Promise<void> {
    for (const message of inbound) {
      const wantsOut = optOut.test(message.text);
      if (!wantsOut && !optIn.test(message.text)) continue;
      const phone = normalizePhone(message.from, deps.defaultCountry);
      if (!phone) continue;
      await store.settings.update(phone, { opted_out: wantsOut }, `${provider}:inbound`, new Date(message.at));
      log.info({ phone: maskPhone(phone), opted_out: wantsOut }, 'recipient preference changed by message');
    }
  }

  return async function processStatus(job: Job<StatusJob>): Promise<{ applied: number; orphans: number }> {
    const parsed = statusJob.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError('job payload is not a v1 status job');
    const data = parsed.data;
    if (data.inbound.length > 0) await applyInbound(data.provider, data.inbound);
    if (data.statuses.length === 0) return { applied: 0, orphans: 0 };

    const { applied, unknown } = await store.messages.applyStatusEvents(data.statuses, async (changes) => {
      for (const change of changes) {
        if (change.delivered_at) await deps.emitCallback?.(change.message, 'delivered', change.delivered_at);
        await deps.emitCallback?.(change.message, change.status, change.at, change.error);
      }
    });
    for (const ev of applied) statusUpdates.inc({ provider: data.provider, status: ev.status });

    if (unknown.length > 0) {
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
