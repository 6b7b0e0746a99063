import { createHash } from 'node:crypto';
import {
  type AcceptJob,
  acceptJobOptions,
  badRequest,
  type ChosenSender,
  conflict,
  ENV_SENDER_ID,
  fieldError,
  HeraldError,
  idempotencyKey,
  idempotencyTtlSeconds,
  type MessageDocument,
  type MessageStatus,
  type MessageView,
  messageMediaIssues,
  messagesAccepted,
  newMessageDocument,
  newMessageId,
  normalizePhone,
  recordToJson,
  type SendJob,
  type SendMessageRequest,
  toView,
  unavailable,
} from '@herald/shared';
import type { FastifyInstance } from 'fastify';
import type { Principal } from '../plugins/auth.ts';
import { findMessage } from './pending-messages.ts';
import { assertServiceWindow } from './service-window.ts';
import { assertProviderTemplateSendable } from './template-approval.ts';

export interface Accepted {
  /** 200 when the message is final or sent, 202 while it is still on its way (SPEC 2.1). */
  httpStatus: 200 | 202;
  message: MessageView;
}

const answered: readonly MessageStatus[] = ['sent', 'delivered', 'read', 'failed', 'expired', 'suppressed', 'cancelled'];

/** Same request ⇔ same fingerprint: the fields that decide what is sent, in a fixed order. */
function fingerprint(phone: string, body: SendMessageRequest): string {
  const context = Object.fromEntries(Object.entries(body.context).sort(([a], [b]) => (a < b ? -1 : 1)));
  const canonical = [
    phone,
    body.message_type,
    context,
    body.reference_id ?? null,
    body.send_at ?? null,
    body.expires_at ?? null,
    body.callback_url ?? null,
    // Only when present, so that the keys of requests from before attachments existed still match.
    ...(body.media ? [body.media] : []),
    ...(body.sender ? [{ sender: body.sender }] : []),
  ];
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex').slice(0, 32);
}

/** A message checked and built, not yet written: its record and its job. */
export interface Prepared {
  doc: MessageDocument;
  job: SendJob;
  delayMs: number;
  suppressed: boolean;
  /** The Redis idempotency key it holds, freed again if the message is not accepted after all. */
  idemRedisKey: string | undefined;
}

/** What is known once per request (bulk: once for all its items). */
export interface PrepareContext {
  principal: Principal;
  requestId: string;
  now: Date;
  headerKey?: string | undefined;
}

/**
 * Checks one request and builds its record and job (SPEC 1: the API never renders). A repeated
 * idempotency key answers with the first message instead (`replayed`). Throws a HeraldError for
 * anything wrong with the request.
 */
export async function prepareMessage(
  app: FastifyInstance,
  body: SendMessageRequest,
  ctx: PrepareContext,
): Promise<{ prepared: Prepared } | { replayed: Accepted }> {
  const { config, redis } = app;
  const { principal, now } = ctx;

  const phone = normalizePhone(body.phone, config.DEFAULT_COUNTRY);
  if (!phone) throw fieldError('phone', `not a valid phone number (numbers without a country code are read as ${config.DEFAULT_COUNTRY})`);

  const sender = await chooseSender(app, principal.tenant, body.sender);
  // The checks below are the sender's provider's (a tenant's number may be another provider's).
  const providerConfig = {
    WHATSAPP_PROVIDER: sender.provider,
    SERVICE_WINDOW_PROVIDERS: config.SERVICE_WINDOW_PROVIDERS,
    QUEUE_PREFIX: config.QUEUE_PREFIX,
  };

  const template = await app.templates.get(body.message_type);
  if (!template) {
    const known = (await app.templates.list()).map((t) => t.type).join(', ');
    throw fieldError('message_type', `unknown template; known: ${known}`);
  }
  if (!template.active) throw conflict(`template ${template.type} is inactive`);
  assertProviderTemplateSendable(providerConfig, template, app.providerTemplates);
  const missing = template.variables.filter((v) => !Object.hasOwn(body.context, v));
  if (missing.length > 0) {
    throw badRequest(
      `context is missing ${missing.join(', ')} for ${template.type}`,
      missing.map((v) => ({ path: `context.${v}`, message: 'required by the template' })),
    );
  }
  // Media links are checked here, from the in-memory template: accept never waits on MongoDB.
  const mediaIssues = messageMediaIssues({
    providers: template.providers,
    context: body.context,
    media: body.media,
    provider: sender.provider,
    type: template.type,
  });
  const mediaIssue = mediaIssues[0];
  if (mediaIssue) throw badRequest(`${mediaIssue.path}: ${mediaIssue.message}`, mediaIssues);
  if (body.callback_url && !config.CALLBACK_SECRET) {
    throw fieldError('callback_url', 'callbacks are not enabled on this deployment (CALLBACK_SECRET is not set)');
  }

  const sendAt = body.send_at ? new Date(body.send_at) : undefined;
  const expiresAt = body.expires_at ? new Date(body.expires_at) : undefined;
  const delayMs = sendAt ? Math.max(0, sendAt.getTime() - now.getTime()) : 0;
  if (expiresAt && expiresAt.getTime() <= now.getTime()) throw fieldError('expires_at', 'is in the past');
  if (expiresAt && sendAt && expiresAt <= sendAt) throw fieldError('expires_at', 'must be after send_at');
  await assertServiceWindow(
    { config: providerConfig, redis: app.redis, providerTemplates: app.providerTemplates },
    { template, phone, now, dueAt: sendAt && delayMs > 0 ? sendAt : now, sender: sender.id },
  );

  if (body.idempotency_key && ctx.headerKey && body.idempotency_key !== ctx.headerKey) {
    throw fieldError('idempotency_key', 'differs from the Idempotency-Key header');
  }
  const idemKey = body.idempotency_key ?? ctx.headerKey;
  const id = newMessageId();
  let idemRedisKey: string | undefined;
  if (idemKey) {
    idemRedisKey = idempotencyKey(config.QUEUE_PREFIX, principal.tenant, idemKey);
    const print = fingerprint(phone, body);
    const set = await redis.set(idemRedisKey, `${id}|${print}`, 'EX', idempotencyTtlSeconds, 'NX');
    if (set !== 'OK') return { replayed: await replay(app, idemRedisKey, print, principal.tenant) };
  }

  try {
    const settings = app.preferences.get(phone);
    const suppressed = settings?.opted_out === true || settings?.disabled_types?.includes(template.type) === true;
    const status: MessageStatus = suppressed ? 'suppressed' : delayMs > 0 ? 'scheduled' : 'queued';
    const queuedAt = sendAt && delayMs > 0 ? sendAt : now;
    const doc = newMessageDocument({
      _id: id,
      tenant: principal.tenant,
      phone,
      message_type: template.type,
      context: body.context,
      reference_id: body.reference_id ?? null,
      status,
      provider: sender.provider,
      sender: sender.id,
      idempotency_key: idemKey ?? null,
      callback_url: body.callback_url ?? null,
      ...(body.media ? { media: body.media } : {}),
      request_id: ctx.requestId,
      created_at: now,
      send_at: sendAt ?? null,
      expires_at: expiresAt ?? null,
      queued_at: suppressed ? null : queuedAt,
      events: [
        {
          status,
          at: now.toISOString(),
          source: 'api',
          attempt: null,
          detail: suppressed ? 'recipient opted out' : delayMs > 0 ? `due ${queuedAt.toISOString()}` : null,
        },
      ],
    });
    const job: SendJob = {
      v: 1,
      id,
      tenant: principal.tenant,
      phone,
      message_type: template.type,
      context: body.context,
      expires_at: expiresAt?.toISOString() ?? null,
      queued_at: queuedAt.toISOString(),
      ...(sender.id !== ENV_SENDER_ID ? { sender: sender.id } : {}),
      request_id: ctx.requestId,
      ...(body.callback_url ? { callback_url: body.callback_url } : {}),
      ...(body.reference_id ? { reference_id: body.reference_id } : {}),
      ...(body.media ? { media: body.media } : {}),
    };
    return { prepared: { doc, job, delayMs, suppressed, idemRedisKey } };
  } catch (err) {
    if (idemRedisKey) await redis.del(idemRedisKey).catch(() => undefined);
    throw err;
  }
}

/**
 * Validates and enqueues one message (SPEC 1): the answer waits on Redis only. One `accept` job
 * carries the whole record; a worker writes it to history in batches and then queues the send
 * (delayed to send_at when scheduled). Until the record is written, reads answer from the job
 * (`pending-messages.ts`). Whatever is answered 2xx is in Redis, so it cannot be lost.
 */
export async function acceptMessage(
  app: FastifyInstance,
  principal: Principal,
  body: SendMessageRequest,
  options: { headerKey?: string | undefined; requestId: string; now?: Date },
): Promise<Accepted> {
  const { config, redis } = app;
  const result = await prepareMessage(app, body, {
    principal,
    requestId: options.requestId,
    now: options.now ?? new Date(),
    headerKey: options.headerKey,
  });
  if ('replayed' in result) return result.replayed;
  const { doc, delayMs, suppressed, idemRedisKey } = result.prepared;
  const id = doc._id;

  try {
    const waitFirstAttempt = !suppressed && body.immediate && delayMs === 0 && config.IMMEDIATE_WAIT_MS > 0;
    // Listen before adding: a fast worker can finish the attempt before `add` returns.
    const waiter = waitFirstAttempt ? app.waitForAttempt(id, config.IMMEDIATE_WAIT_MS) : undefined;
    try {
      await app.addAccept(acceptJobOf(result.prepared), acceptJobOptions(id));
    } catch (err) {
      waiter?.cancel();
      throw err;
    }
    messagesAccepted.inc({ provider: config.WHATSAPP_PROVIDER, type: doc.message_type, status: doc.status });
    if (suppressed) return { httpStatus: 200, message: toView(doc) };
    if (!waiter) return { httpStatus: 202, message: toView(doc) };
    await waiter.promise;
    // The attempt's outcome is in history by now, unless the database is away: then the answer
    // is what was accepted.
    const current = (await app.store.messages.get(id).catch(() => null)) ?? doc;
    return { httpStatus: answered.includes(current.status) ? 200 : 202, message: toView(current) };
  } catch (err) {
    // Not accepted: free the key so the caller's retry is a fresh attempt.
    if (idemRedisKey && !(err instanceof HeraldError)) await redis.del(idemRedisKey).catch(() => undefined);
    throw err;
  }
}

/** The job that carries a prepared message to history and on to sending. */
export function acceptJobOf(p: Prepared): AcceptJob {
  return { v: 1, record: recordToJson(p.doc), send: p.suppressed ? null : p.job };
}

/**
 * The sender a message goes through (issue 13): the one it names, else its tenant's default, else
 * the deployment's (`env`), from the in-memory mirror. A named sender the mirror does not know yet
 * (created a moment ago on another API) is looked for once more in the database — at most one
 * read a second, so unknown ids cannot make every request a database read — before it is a 400;
 * another tenant's is a 403, a disabled one a 409.
 */
export async function chooseSender(app: FastifyInstance, tenant: string, requested: string | undefined): Promise<ChosenSender> {
  let chosen = app.senderMirror.choose(tenant, requested, app.config);
  if ('refused' in chosen && chosen.refused === 'unknown') {
    await app.senderMirror.refreshUnlessFresh().catch(() => undefined);
    chosen = app.senderMirror.choose(tenant, requested, app.config);
  }
  if (!('refused' in chosen)) return chosen;
  if (chosen.refused === 'forbidden') throw new HeraldError('forbidden', chosen.message);
  if (chosen.refused === 'disabled') throw conflict(chosen.message);
  throw fieldError('sender', `${chosen.message} (list them at /api/v1/admin/senders)`);
}

/** A repeated idempotency key: the first message (200), or 409 when the body differs. */
export async function replay(app: FastifyInstance, redisKey: string, print: string, tenant: string): Promise<Accepted> {
  const stored = await app.redis.get(redisKey);
  const [firstId, firstPrint] = (stored ?? '').split('|');
  if (!firstId) throw unavailable('idempotency record vanished; retry');
  if (firstPrint !== print) throw conflict('idempotency key already used with a different request');
  // The first request may still be adding its job: give it a moment.
  for (let i = 0; i < 20; i++) {
    const doc = await findMessage(app, firstId, { tenant });
    if (doc) return { httpStatus: 200, message: toView(doc) };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw unavailable('the first request with this idempotency key is still being accepted; retry');
}
