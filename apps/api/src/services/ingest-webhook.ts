import { createHash } from 'node:crypto';
import {
  type AcceptanceProof,
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
  type WebhookOutcome,
  type WebhookRequest,
  webhookEvents,
  webhookRequests,
} from '@herald/shared';
import type { FastifyInstance } from 'fastify';
import type { WebhookRoute } from './route-webhook.ts';

/**
 * How long a taken webhook is remembered to refuse its replays, in seconds. Meta retries failed
 * deliveries for days; after this a replay is still harmless (applying is idempotent), only no
 * longer counted as one.
 */
const replayWindowS = 7 * 24 * 3600;

/**
 * Takes a webhook routed to its sender(s) (route-webhook.ts): refuses one that names no known
 * sender (404, counted `unknown_sender`: nothing here can verify it, and a 5xx would only make the
 * provider retry), verifies it with the secret of every sender it is for, and queues what it
 * carries, each job naming its sender: its inbound messages as one `inbound` job per sender, first
 * (an opt-out must never wait behind status events: docs/providers.md, Opt-out first), its status
 * events as one `status` job per sender. Its identity is the provider's event id where there is
 * one (MyOperator), else the sha256 of the raw body; the jobs take it as their id, and a replay of
 * a request already taken is answered 200 (so the provider stops) and counted, and changes
 * nothing. Refused requests are counted too (`herald_webhook_requests_total`). Returns the events
 * queued.
 */
export async function ingestRouted(
  app: FastifyInstance,
  provider: ProviderName,
  request: WebhookRequest,
  route: WebhookRoute,
): Promise<number> {
  const count = (outcome: WebhookOutcome) => webhookRequests.inc({ provider, outcome });
  if (route.kind === 'not_configured') throw new Error('ingestRouted: the route answers not_configured itself');
  if (route.kind === 'unknown') {
    count('unknown_sender');
    throw notFound(`no ${provider} sender here has the ${route.identifier} this webhook names`);
  }
  const senders = new Map(route.parts.map((p) => [p.sender.id, p.sender]));
  for (const sender of senders.values()) {
    if (!sender.adapter.verifyWebhook(request)) {
      count(request.headers[sender.adapter.signatureHeader] === undefined ? 'unsigned' : 'bad_signature');
      throw new HeraldError('unauthorized', 'webhook signature does not match');
    }
  }
  for (const id of senders.keys()) app.lastWebhook.mark(id);
  const parts: { sender: string; parsed: ParsedWebhook }[] = [];
  for (const part of route.parts) {
    try {
      parts.push({ sender: part.sender.id, parsed: part.sender.adapter.parseWebhook(part.request) });
    } catch {
      count('bad_body');
      throw badRequest(`not a ${provider} webhook body`);
    }
  }
  const single = parts.length === 1 ? parts[0] : undefined;
  const events = parts.reduce((n, p) => n + p.parsed.statuses.length + p.parsed.inbound.length, 0);
  const hash = createHash('sha256')
    .update(single?.parsed.id ?? request.rawBody)
    .digest('hex');
  if (events === 0) {
    if (parts.some((p) => p.parsed.unmapped)) await app.store.orphans.keepRaw(hash, provider, request.rawBody.toString('utf8'));
    count('empty');
    return 0;
  }
  const seenKey = `${app.config.QUEUE_PREFIX}:webhook-seen:${hash}`;
  if ((await app.redis.exists(seenKey)) === 1) {
    count('replayed');
    return 0;
  }
  const receivedAt = new Date().toISOString();
  // Same job ids for the same delivery: two copies racing past the check above collapse here. A
  // request split between senders gives each sender's jobs the id plus the sender.
  const jobId = (sender: string) => (single ? hash : `${hash}-${sender}`);
  for (const { sender, parsed } of parts) {
    if (parsed.inbound.length === 0) continue;
    const inbound: InboundJob = { v: 1, provider, sender, received_at: receivedAt, messages: parsed.inbound };
    await app.queues.inbound.add(jobNames.inbound, inbound, inboundJobOptions(jobId(sender)));
  }
  for (const { sender, parsed } of parts) {
    if (parsed.statuses.length === 0) continue;
    // `inbound` stays in the status job's shape, empty, so a worker of the earlier release reads it.
    const job: StatusJob = { v: 1, provider, sender, received_at: receivedAt, statuses: parsed.statuses, inbound: [] };
    const plan = statusRetryPlan(app.config.STATUS_ORPHAN_AFTER_MS);
    await app.queues.status.add(jobNames.status, job, statusJobOptions(jobId(sender), plan.attempts, plan.backoffMs));
  }
  // Remembered only once queued, so a request whose enqueue failed can be retried by the provider.
  const first = await app.redis.set(seenKey, '1', 'EX', replayWindowS, 'NX');
  if (first !== 'OK') {
    count('replayed');
    return 0;
  }
  count('accepted');
  await keepProofs(app, parts);
  const statuses = parts.reduce((n, p) => n + p.parsed.statuses.length, 0);
  const inbound = parts.reduce((n, p) => n + p.parsed.inbound.length, 0);
  if (statuses > 0) webhookEvents.inc({ provider, kind: 'status' }, statuses);
  if (inbound > 0) webhookEvents.inc({ provider, kind: 'inbound' }, inbound);
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

/**
 * Issue 14: the provider's word that it took a message, kept the moment the webhook arrives — not
 * when a status worker reads it, which behind a backlog can be minutes later, after the send
 * waiting for it has given up and sent again. Every acceptance event (sent, delivered, read) that
 * names a Herald id is kept by that id for long enough to cover any wait (most are never asked
 * for); a send job already waiting is woken at once. Never fails the webhook: the status worker
 * keeps the proofs of events no recorded send matches in any case.
 */
async function keepProofs(app: FastifyInstance, parts: { sender: string; parsed: ParsedWebhook }[]): Promise<void> {
  const proofs = new Map<string, AcceptanceProof>();
  for (const { sender, parsed } of parts) {
    for (const ev of parsed.statuses) {
      if (!ev.herald_id || ev.status === 'failed' || proofs.has(ev.herald_id)) continue;
      proofs.set(ev.herald_id, { provider_message_id: ev.provider_message_id, sender, at: ev.at });
    }
  }
  if (proofs.size === 0) return;
  const c = app.config;
  // Longer than the latest a job can ask: the provider's timeout, a dead worker's lock lapsing
  // (twice: the stall check runs at half the lock), then the wait.
  const ttlS = Math.max(600, Math.ceil((c.PROVIDER_TIMEOUT_MS + 2 * c.WORKER_LOCK_MS + c.UNKNOWN_OUTCOME_WAIT_MS) / 1000));
  try {
    await app.proofs.keepAndWake(proofs, app.queues.send, ttlS);
  } catch (err) {
    app.log.warn({ err: (err as Error).message }, 'proofs of acceptance not kept here; the status worker keeps them');
  }
}
