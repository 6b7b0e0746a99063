import { conflict, jobNames, type MessageDocument, notFound, type SendJob, sendJobOptions } from '@herald/shared';
import { event, type Scope } from '@herald/store';
import type { FastifyInstance } from 'fastify';
import type { Principal } from '../plugins/auth.ts';
import { acceptSettled, pendingMessage, settledState } from './pending-messages.ts';

/** Which tenant a request sees: a tenant's token its own, an admin without one all (or the one asked for). */
export function tenantScope(principal: Principal, requested?: string): Scope {
  if (principal.allTenants) return requested ? { tenant: requested } : {};
  return { tenant: principal.tenant };
}

/**
 * Cancels a queued or scheduled message: its job is removed first (BullMQ refuses while a worker
 * holds it, which is a 409: it is being sent), then the record moves to `cancelled` only if it
 * is still pending.
 */
export async function cancelMessage(app: FastifyInstance, principal: Principal, id: string): Promise<MessageDocument> {
  const scope = tenantScope(principal);
  let doc = await app.store.messages.get(id, scope);
  if (!doc) {
    const cancelled = await cancelNotWritten(app, principal, id);
    if (cancelled) return cancelled;
    doc = await app.store.messages.get(id, scope); // written meanwhile
  }
  if (!doc) throw notFound('no such message');
  if (doc.status !== 'queued' && doc.status !== 'scheduled')
    throw conflict(`message is ${doc.status}; only queued or scheduled ones can be cancelled`);
  let job = await app.queues.send.getJob(id);
  if (!job) {
    // Written a moment ago, its send not queued yet: the accept worker queues it once it lets go.
    const accept = await acceptSettled(app, id);
    if (accept === 'active') throw conflict('message is being accepted; retry in a moment');
    if (accept) job = await app.queues.send.getJob(id);
  }
  if (job) {
    const state = await job.getState();
    if (state === 'active') throw conflict('message is being sent');
    try {
      await job.remove();
    } catch {
      throw conflict('message is being sent');
    }
  }
  const now = new Date();
  const updated = await app.store.messages.cancel(id, `by ${principal.sub}`, now);
  if (!updated) throw conflict('message changed meanwhile; it is no longer queued or scheduled');
  await app.emitCallback(updated, 'cancelled', now);
  return updated;
}

/**
 * Cancels a message whose record is not written yet (its accept job waits): the record is written
 * as `cancelled` first, so the accept worker, finding it there, queues no send; then the job goes.
 * Null when there is no such job (or it was written meanwhile: the caller takes the usual path).
 */
async function cancelNotWritten(app: FastifyInstance, principal: Principal, id: string): Promise<MessageDocument | null> {
  const pending = await pendingMessage(app, id, tenantScope(principal));
  if (!pending) return null;
  const job = await app.queues.accept.getJob(id);
  // Being written right now (a matter of milliseconds, unless the database is away): wait for it.
  const state = await acceptSettled(app, id);
  if (state === 'completed' || state === undefined) return null;
  if (state === 'active') throw conflict('message is being accepted; retry in a moment');
  const now = new Date();
  const cancelled: MessageDocument = {
    ...pending,
    status: 'cancelled',
    queued_at: null,
    events: [...pending.events, event('cancelled', now, 'admin', null, `by ${principal.sub}`)],
  };
  try {
    await app.store.messages.insertMany([cancelled]);
  } catch (err) {
    if ((await app.store.messages.get(id)) !== null) return null; // the worker wrote it first
    throw err;
  }
  await job?.remove().catch(() => undefined);
  await app.emitCallback(cancelled, 'cancelled', now);
  return cancelled;
}

/**
 * Puts a failed message back in the queue under the same id: status `queued`, event `resent`,
 * its earlier attempts left in the timeline. The old job (kept failed, or completed when the
 * provider reported the failure later) is removed so the id can be queued again.
 */
export async function resendMessage(
  app: FastifyInstance,
  principal: Principal,
  id: string,
  why: string,
  scope: Scope = tenantScope(principal),
): Promise<MessageDocument> {
  const doc = await app.store.messages.get(id, scope);
  if (!doc) throw notFound('no such message');
  if (doc.status !== 'failed') throw conflict(`message is ${doc.status}; only failed messages can be resent`);
  const old = await app.queues.send.getJob(id);
  if (old) {
    // The worker records the failure just before BullMQ moves the job to failed: give it a moment.
    const state = await settledState(app.queues.send, id, 2_000);
    if (state === 'active' || state === 'waiting' || state === 'delayed' || state === 'prioritized') {
      throw conflict('message is already queued again');
    }
    await old.remove();
  }
  // Sent afresh: a proof of acceptance an earlier attempt's webhook left proves nothing of this one.
  await app.proofs.forget(id);
  const now = new Date();
  const updated = await app.store.messages.resend(id, why, now);
  if (!updated) throw conflict('message changed meanwhile; it is no longer failed');
  const job: SendJob = {
    v: 1,
    id,
    tenant: updated.tenant,
    phone: updated.phone,
    message_type: updated.message_type,
    context: updated.context,
    expires_at: updated.expires_at?.toISOString() ?? null,
    queued_at: now.toISOString(),
    ...(updated.callback_url ? { callback_url: updated.callback_url } : {}),
    ...(updated.reference_id ? { reference_id: updated.reference_id } : {}),
    ...(updated.media ? { media: updated.media } : {}),
    // Resent through the sender it was accepted for (a disabled one fails it again, visibly).
    ...(updated.sender && updated.sender !== 'env' ? { sender: updated.sender } : {}),
  };
  try {
    await app.queues.send.add(jobNames.send, job, sendJobOptions(app.config, id, 0));
  } catch (err) {
    // Not queued: put the record back as it was, so it can be resent again.
    await app.store.messages.restoreFailed(doc).catch(() => undefined);
    throw err;
  }
  await app.emitCallback(updated, 'queued', now);
  return updated;
}

/**
 * The seeds' manual retry trigger (SPEC 2): resends failed messages whose last error was
 * retryable (never a permanent failure), and promotes send jobs waiting out a retry backoff.
 * Scheduled messages (delayed jobs that never ran) keep their time.
 */
export async function processQueue(app: FastifyInstance, principal: Principal, limit: number) {
  const scope = tenantScope(principal);
  const failed = await app.store.messages.retryableFailedIds(scope, limit);
  let retried = 0;
  let skipped = 0;
  for (const _id of failed) {
    try {
      await resendMessage(app, principal, _id, 'retried by process-queue', scope);
      retried++;
    } catch {
      skipped++;
    }
  }
  let promoted = 0;
  // One read of the delayed set (bounded): promoting jobs shifts its ranks, so no paging.
  const delayed = await app.queues.send.getDelayed(0, 9_999);
  for (const job of delayed) {
    if (!job || job.attemptsMade === 0) continue; // scheduled (or never tried): keeps its time
    if (!principal.allTenants && job.data.tenant !== principal.tenant) continue;
    try {
      await job.promote();
      promoted++;
    } catch {
      // It moved on by itself meanwhile.
    }
  }
  return { retried, promoted, skipped };
}
