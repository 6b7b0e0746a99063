import { createHash } from 'node:crypto';
import {
  badRequest,
  HeraldError,
  type InboundJob,
  inboundJobOptions,
  jobNames,
  notFound,
  type ParsedWebhook,
  type ProviderName,
  type StatusJob,
  statusJobOptions,
  statusRetryPlan,
  type WebhookAdapter,
  type WebhookOutcome,
  type WebhookRequest,
  webhookEvents,
  webhookRequests,
} from '@herald/shared';
import type { FastifyInstance } from 'fastify';

/**
 * How long a taken webhook is remembered to refuse its replays, in seconds. Meta retries failed
 * deliveries for days; after this a replay is still harmless (applying is idempotent), only no
 * longer counted as one.
 */
const replayWindowS = 7 * 24 * 3600;

/**
 * Verifies a provider webhook and queues what it carries: its inbound messages as one `inbound`
 * job, first (an opt-out must never wait behind status events: docs/providers.md, Opt-out
 * first), its status events as one `status` job. Its identity is the provider's event id where
 * there is one (MyOperator), else the sha256 of the raw body; both jobs take it as their id, and
 * a replay of a request already taken is answered 200 (so the provider stops) and counted, and
 * changes nothing. Refused requests are counted too (`herald_webhook_requests_total`). Returns the
 * events queued.
 */
export async function ingestWebhook(app: FastifyInstance, adapter: WebhookAdapter, request: WebhookRequest): Promise<number> {
  const count = (outcome: WebhookOutcome) => webhookRequests.inc({ provider: adapter.name, outcome });
  if (!adapter.verifyWebhook(request)) {
    count(request.headers[adapter.signatureHeader] === undefined ? 'unsigned' : 'bad_signature');
    throw new HeraldError('unauthorized', 'webhook signature does not match');
  }
  let parsed: ParsedWebhook;
  try {
    parsed = adapter.parseWebhook(request);
  } catch {
    count('bad_body');
    throw badRequest(`not a ${adapter.name} webhook body`);
  }
  const events = parsed.statuses.length + parsed.inbound.length;
  const hash = createHash('sha256')
    .update(parsed.id ?? request.rawBody)
    .digest('hex');
  if (events === 0) {
    if (parsed.unmapped) await app.store.orphans.keepRaw(hash, adapter.name, request.rawBody.toString('utf8'));
    count('empty');
    return 0;
  }
  const seenKey = `${app.config.QUEUE_PREFIX}:webhook-seen:${hash}`;
  if ((await app.redis.exists(seenKey)) === 1) {
    count('replayed');
    return 0;
  }
  const receivedAt = new Date().toISOString();
  // Same job ids for the same delivery: two copies racing past the check above collapse here.
  if (parsed.inbound.length > 0) {
    const inbound: InboundJob = { v: 1, provider: adapter.name, received_at: receivedAt, messages: parsed.inbound };
    await app.queues.inbound.add(jobNames.inbound, inbound, inboundJobOptions(hash));
  }
  if (parsed.statuses.length > 0) {
    // `inbound` stays in the status job's shape, empty, so a worker of the earlier release reads it.
    const job: StatusJob = { v: 1, provider: adapter.name, received_at: receivedAt, statuses: parsed.statuses, inbound: [] };
    const plan = statusRetryPlan(app.config.STATUS_ORPHAN_AFTER_MS);
    await app.queues.status.add(jobNames.status, job, statusJobOptions(hash, plan.attempts, plan.backoffMs));
  }
  // Remembered only once queued, so a request whose enqueue failed can be retried by the provider.
  const first = await app.redis.set(seenKey, '1', 'EX', replayWindowS, 'NX');
  if (first !== 'OK') {
    count('replayed');
    return 0;
  }
  count('accepted');
  if (parsed.statuses.length > 0) webhookEvents.inc({ provider: adapter.name, kind: 'status' }, parsed.statuses.length);
  if (parsed.inbound.length > 0) webhookEvents.inc({ provider: adapter.name, kind: 'inbound' }, parsed.inbound.length);
  return events;
}

/**
 * The answer of a webhook route whose provider has no secret configured here: a 404, because a
 * 5xx asks the provider to retry (Meta retries for days) what this Herald can never take. Counted
 * as `not_configured`.
 */
export function notConfigured(provider: ProviderName, label: string, variable: string): HeraldError {
  webhookRequests.inc({ provider, outcome: 'not_configured' });
  return notFound(`${label} webhooks are not configured on this Herald (${variable} is not set)`);
}
