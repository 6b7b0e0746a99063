import {
  type Config,
  defaultSenderId,
  type EmitCallback,
  ENV_SENDER_ID,
  type InboundJob,
  type InboundMessage,
  inboundJob,
  keywordIntent,
  maskPhone,
  normalizePhone,
  type OptOutCache,
  optOutEffect,
  type ServiceWindows,
  senderOwns,
} from '@herald/shared';
import type { Store } from '@herald/store';
import { type Job, UnrecoverableError } from 'bullmq';
import type { Logger } from 'pino';

export interface InboundDeps {
  /** Recipients' settings: an opt-out or opt-in keyword is written there. */
  store: Store;
  /** Every process's cached preferences: told right after each write. */
  optOut: Pick<OptOutCache, 'invalidate'>;
  /** OPT_OUT_KEYWORDS, OPT_IN_KEYWORDS; DEFAULT_COUNTRY for a sender written without its code. */
  config: Pick<Config, 'OPT_OUT_KEYWORDS' | 'OPT_IN_KEYWORDS' | 'DEFAULT_COUNTRY'>;
  /** Where a reply to one of Herald's messages is announced (its callback_url); none in some tests. */
  emitCallback?: Pick<EmitCallback, 'reply' | 'reserve'>;
  /** Each (sender, recipient)'s 24-hour window: every inbound message opens it (see recordWindows). */
  windows?: Pick<ServiceWindows, 'record'>;
  log: Logger;
}

/**
 * Applies the inbound messages of one webhook request. First every opt-out or opt-in keyword
 * (STOP, UNSUBSCRIBE, …, START): it sets or clears the sender's `opted_out`, and each write is
 * followed at once by the cache invalidation every process listens for, so sends already queued
 * for that number are suppressed from then on; the time from the webhook reaching the API to this
 * point is `herald_opt_out_effect_seconds`. A keyword counts typed, as a tapped button's label or
 * as its payload. Then the replies: a button or list tap that answers one of Herald's messages
 * goes on that message's timeline and to its callback_url (`event: reply`). Anything else changes
 * nothing. A failed write (database away) fails the job, whose retries (inboundJobOptions) apply it
 * later; a reply already on its message's timeline is not added or announced again.
 */
export function createInboundProcessor(deps: InboundDeps) {
  const { store, optOut, config, log } = deps;

  async function applyKeyword(provider: string, sender: string, receivedAt: string, message: InboundMessage): Promise<boolean> {
    const intent = keywordIntent(message.text, config) ?? (message.reply ? keywordIntent(message.reply.payload, config) : null);
    if (!intent) return false;
    const phone = normalizePhone(message.from, config.DEFAULT_COUNTRY);
    if (!phone) return false;
    // Attributed to the number that received it: `meta:inbound` (the deployment's), `meta:inbound:snd_…` (a tenant's).
    const source = sender === ENV_SENDER_ID ? `${provider}:inbound` : `${provider}:inbound:${sender}`;
    const written = await store.settings.update(phone, { opted_out: intent === 'out' }, source, new Date(message.at));
    await optOut.invalidate(phone, { opted_out: written.opted_out, disabled_types: written.disabled_types ?? [] });
    const seconds = Math.max(0, Date.now() - Date.parse(receivedAt)) / 1000;
    optOutEffect.observe({ provider, direction: intent }, seconds);
    log.info(
      { phone: maskPhone(phone), opted_out: intent === 'out', provider, sender, effect_ms: Math.round(seconds * 1000) },
      'recipient preference changed by message',
    );
    return true;
  }

  /** Returns whether the reply answered one of Herald's messages and was recorded now. */
  async function applyReply(provider: string, sender: string, message: InboundMessage): Promise<boolean> {
    const { reply, reply_to: replyTo } = message;
    if (!reply || !replyTo) return false;
    const found = await store.messages.findByProviderId(replyTo);
    // A reply that came in through one sender's number answers only that sender's messages.
    const answered = found && senderOwns(found, sender) ? found : null;
    if (!answered) {
      log.debug({ provider, reply_to: replyTo }, 'reply to a message Herald did not send: kept as an inbound message only');
      return false;
    }
    // Numbered before the status is read: see emitCallback.reply.
    const sequence = answered.callback_url ? await deps.emitCallback?.reserve(answered._id) : undefined;
    const at = new Date(message.at);
    const detail = `${reply.kind.replace('_', ' ')} "${reply.title}" (payload ${reply.payload})`;
    const recorded = await store.messages.recordReply(answered._id, `reply:${provider}:${message.provider_message_id}`, {
      status: 'reply',
      at: at.toISOString(),
      source: 'webhook',
      attempt: null,
      detail,
      reply,
    });
    if (!recorded) return false;
    await deps.emitCallback?.reply(recorded, reply, at, sequence);
    log.info({ id: recorded._id, provider, kind: reply.kind }, 'reply recorded');
    return true;
  }

  return async function processInbound(job: Job<InboundJob>): Promise<{ applied: number; replies: number }> {
    const parsed = inboundJob.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError('job payload is not a v1 inbound job');
    const { provider, received_at: receivedAt, messages } = parsed.data;
    const sender = parsed.data.sender ?? ENV_SENDER_ID;
    if (deps.windows) await recordWindows(deps.windows, parsed.data, config.DEFAULT_COUNTRY);
    let applied = 0;
    for (const message of messages) if (await applyKeyword(provider, sender, receivedAt, message)) applied += 1;
    let replies = 0;
    for (const message of messages) if (await applyReply(provider, sender, message)) replies += 1;
    return { applied, replies };
  };
}

/**
 * Opens each writer's 24-hour window with the provider's own time of the message (Meta's
 * `timestamp`, MyOperator's envelope `timestamp`; Twilio's webhook carries none, so the time the
 * API received it). Before the keywords: a STOP is a message too.
 */
async function recordWindows(windows: Pick<ServiceWindows, 'record'>, job: InboundJob, country: string): Promise<void> {
  const receivedAt = new Date(job.received_at);
  for (const message of job.messages) {
    const phone = normalizePhone(message.from, country);
    if (phone) await windows.record(job.sender ?? defaultSenderId, phone, new Date(message.at), receivedAt);
  }
}
