import { createHash } from 'node:crypto';
import {
  badRequest,
  HeraldError,
  jobNames,
  type StatusJob,
  statusJobOptions,
  statusRetryPlan,
  type WebhookAdapter,
  type WebhookRequest,
  webhookEvents,
  webhookRequests,
} from '@herald/shared';
import type { FastifyInstance } from 'fastify';

/**
 * Verifies a provider webhook and turns it into one `status` job whose id is the sha256 of the
 * raw body: a replay of the same request collapses into the job already there, and applying is
 * idempotent anyway for replays after that job is gone. Returns the number of events queued.
 */
export async function ingestWebhook(app: FastifyInstance, adapter: WebhookAdapter, request: WebhookRequest): Promise<number> {
  try {
    const queued = await ingest(app, adapter, request);
    webhookRequests.inc({ provider: adapter.name, outcome: queued > 0 ? 'accepted' : 'empty' });
    return queued;
  } catch (err) {
    const outcome = err instanceof HeraldError ? (err.code === 'unauthorized' ? 'invalid_signature' : err.code) : 'unavailable';
    webhookRequests.inc({ provider: adapter.name, outcome });
    throw err;
  }
}

async function ingest(app: FastifyInstance, adapter: WebhookAdapter, request: WebhookRequest): Promise<number> {
  if (!adapter.verifyWebhook(request)) {
    throw new HeraldError('unauthorized', 'webhook signature does not match');
  }
  let parsed: ReturnType<WebhookAdapter['parseWebhook']>;
  try {
    parsed = adapter.parseWebhook(request);
  } catch {
    throw badRequest(`not a ${adapter.name} webhook body`);
  }
  const events = parsed.statuses.length + parsed.inbound.length;
  if (events === 0) return 0;
  const job: StatusJob = {
    v: 1,
    provider: adapter.name,
    received_at: new Date().toISOString(),
    statuses: parsed.statuses,
    inbound: parsed.inbound,
  };
  const hash = createHash('sha256').update(request.rawBody).digest('hex');
  const plan = statusRetryPlan(app.config.STATUS_ORPHAN_AFTER_MS);
  await app.queues.status.add(jobNames.status, job, statusJobOptions(hash, plan.attempts, plan.backoffMs));
  if (parsed.statuses.length > 0) webhookEvents.inc({ provider: adapter.name, kind: 'status' }, parsed.statuses.length);
  if (parsed.inbound.length > 0) webhookEvents.inc({ provider: adapter.name, kind: 'inbound' }, parsed.inbound.length);
  return events;
}
