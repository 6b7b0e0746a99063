import { announcePreferencesChanged, channels, conflict, type ErasureReport, redactPhone, ServiceWindows } from '@herald/shared';
import { DuplicateRecordError, event } from '@herald/store';
import type { FastifyInstance } from 'fastify';
import { acceptingFor, acceptSettled } from './pending-messages.ts';

/** How many jobs of a queue an erasure looks through (callbacks keep a week of failures). */
const jobScanLimit = 50_000;

/**
 * Erases one person (an E.164 phone) everywhere Herald keeps them: their still-pending send jobs
 * are removed (the messages end `cancelled`), every message to them is anonymised (counts and
 * timestamps stay, so statistics stay right), their settings and every kept webhook event that
 * names them are deleted, and so are the jobs that still carry their data: the messages' send
 * jobs (completed and failed ones keep their payload) and callbacks not yet delivered.
 * Idempotency keys in Redis hold only a message id and a hash, never the phone, so they are left
 * to expire (24 h). Their 24-hour windows (a hash of the number and a time) are deleted.
 */
export async function erasePerson(app: FastifyInstance, phone: string, now = new Date()): Promise<ErasureReport> {
  const { store, queues } = app;
  let jobsRemoved = 0;
  // Accepted and not written yet, or being written right now: written here as cancelled (the
  // accept worker, finding a record, queues no send; anonymised below) and their jobs removed.
  // One a worker already holds may have been written first and be about to queue its send: wait
  // until it lets go, so the send job is there to be removed below.
  for (const doc of await acceptingFor(app, phone, jobScanLimit)) {
    const cancelled = {
      ...doc,
      status: 'cancelled' as const,
      queued_at: null,
      events: [...doc.events, event('cancelled', now, 'api', null, 'recipient erased')],
    };
    await store.messages.insertMany([cancelled]).catch((err) => {
      if (!(err instanceof DuplicateRecordError)) throw err;
    });
    if ((await queues.accept.remove(doc._id).catch(() => 0)) === 1) jobsRemoved += 1;
    else if ((await acceptSettled(app, doc._id, 10_000)) === 'active')
      throw conflict('a message to this person is being accepted right now; retry the erasure in a moment');
  }
  for (const id of await store.messages.pendingIdsFor(phone)) {
    if ((await queues.send.remove(id).catch(() => 0)) === 1) jobsRemoved += 1;
  }
  const { ids, anonymised } = await store.messages.erasePerson(phone, now);
  // Jobs of their messages that ran already still hold the phone and context in their payload
  // (the accept job its whole record, the send job the phone and context).
  for (const id of ids) {
    await queues.accept.remove(id).catch(() => 0);
    await queues.send.remove(id).catch(() => 0);
  }
  const theirs = new Set(ids);
  let callbacksRemoved = 0;
  const callbacks = await queues.callback.getJobs(['waiting', 'delayed', 'failed', 'completed', 'prioritized'], 0, jobScanLimit);
  for (const job of callbacks) {
    if (!job || !theirs.has(job.data.payload.id)) continue;
    try {
      await job.remove();
      callbacksRemoved += 1;
    } catch {
      // Being delivered right now: it carries no phone (only the message id), and ends soon.
    }
  }
  // Webhook jobs naming them (an orphan's recipient, an inbound message's sender) are kept for an
  // hour after they ran: they go too.
  const digits = phone.replace(/\D/g, '');
  const named = (n: string | undefined) => n !== undefined && n.replace(/\D/g, '') === digits;
  let webhookJobsRemoved = 0;
  const statusJobs = await queues.status.getJobs(['waiting', 'delayed', 'failed', 'completed', 'prioritized'], 0, jobScanLimit);
  for (const job of statusJobs) {
    if (!job || !(job.data.statuses?.some((s) => named(s.recipient)) || job.data.inbound?.some((m) => named(m.from)))) continue;
    try {
      await job.remove();
      webhookJobsRemoved += 1;
    } catch {
      // Being applied right now; it ends within the hour it is kept.
    }
  }
  const inboundJobs = await queues.inbound.getJobs(['waiting', 'delayed', 'failed', 'completed', 'prioritized'], 0, jobScanLimit);
  for (const job of inboundJobs) {
    if (!job?.data.messages?.some((m) => named(m.from))) continue;
    try {
      await job.remove();
      webhookJobsRemoved += 1;
    } catch {
      // Being applied right now; it ends within the hour it is kept.
    }
  }
  const settingsRemoved = await store.settings.remove(phone);
  await announcePreferencesChanged(app.redis, channels(app.config.QUEUE_PREFIX).preferences, phone, null);
  const orphansRemoved = await store.orphans.removeFor(phone);
  // Their window with every sender (the deployment's and each stored one).
  const senderIds = ['env', ...(await store.senders.list().catch(() => [])).map((d) => d._id)];
  await new ServiceWindows(app.redis, app.config.QUEUE_PREFIX).forget(phone, senderIds);
  return {
    phone_redacted: redactPhone(phone),
    messages_anonymised: anonymised,
    jobs_removed: jobsRemoved,
    settings_removed: settingsRemoved,
    orphan_events_removed: orphansRemoved,
    callbacks_removed: callbacksRemoved,
    webhook_jobs_removed: webhookJobsRemoved,
  };
}
