import { createHmac, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { digitsOf } from '../core/phone.ts';
import type { ProviderWebhooks, SignatureMode } from '../core/provider.ts';
import { scheduleStatuses } from '../core/schedule-statuses.ts';
import { SimSenders, type TwilioAccount } from '../core/senders.ts';
import type { SimulatorState } from '../core/state.ts';
import type { MessageRecord, RequestOutcome } from '../core/store.ts';
import type { OutgoingWebhook } from '../core/webhook-dispatcher.ts';
import type { ResolvedOptions } from '../options.ts';
import { twilioError } from './twilio-errors.ts';

export const TWILIO_PROVIDER = 'twilio';

/** Twilio's X-Twilio-Signature: URL + sorted name/value pairs, HMAC-SHA1 with the auth token, base64. */
export function twilioSignature(authToken: string, url: string, params: URLSearchParams): string {
  const byName = new Map<string, string[]>();
  for (const [name, value] of params) byName.set(name, [...(byName.get(name) ?? []), value]);
  let data = url;
  for (const name of [...byName.keys()].sort()) for (const value of (byName.get(name) ?? []).sort()) data += name + value;
  return createHmac('sha1', authToken).update(data).digest('base64');
}

const newSid = (prefix: string) => `${prefix}${randomBytes(16).toString('hex')}`;

/** Twilio's webhooks: form-encoded, naming their account, signed with its auth token over the URL they are posted to. */
export function createTwilioWebhooks(
  options: ResolvedOptions,
  senders = new SimSenders(options),
): ProviderWebhooks & {
  status(url: string, record: MessageRecord, from: string, status: string, errorCode?: number): OutgoingWebhook;
} {
  const inboundUrl = `${options.webhookBaseUrl}${options.twilio.webhookPath}`;
  function signed(url: string, params: URLSearchParams, signature: SignatureMode, account: TwilioAccount): OutgoingWebhook {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (signature === 'valid') headers['x-twilio-signature'] = twilioSignature(account.authToken, url, params);
    if (signature === 'invalid') headers['x-twilio-signature'] = twilioSignature(`${account.authToken}-wrong`, url, params);
    return { url, body: params.toString(), headers };
  }
  return {
    status(url, record, from, status, errorCode) {
      const account = senders.twilio(record.sender);
      const params = new URLSearchParams({
        AccountSid: account.accountSid,
        ApiVersion: '2010-04-01',
        ChannelToAddress: `+${digitsOf(record.to)}`,
        From: from,
        MessageSid: record.id,
        MessageStatus: status,
        SmsSid: record.id,
        SmsStatus: status,
        To: `whatsapp:${record.to}`,
      });
      if (errorCode !== undefined) params.set('ErrorCode', String(errorCode));
      return signed(url, params, 'valid', account);
    },
    taps: ['button'],
    inbound(input) {
      const tap = input.tap?.kind === 'button' ? input.tap : undefined;
      const account = senders.twilio(input.sender);
      const params = new URLSearchParams({
        AccountSid: account.accountSid,
        ApiVersion: '2010-04-01',
        Body: tap ? tap.text : input.text,
        From: `whatsapp:+${digitsOf(input.from)}`,
        MessageSid: newSid('SM'),
        NumMedia: '0',
        ProfileName: input.name ?? 'Simulated User',
        SmsMessageSid: newSid('SM'),
        SmsStatus: 'received',
        To: `whatsapp:${account.from}`,
        WaId: digitsOf(input.from),
      });
      // A quick-reply tap: the button's id and label, and (as for any reply) the answered message's sid.
      if (tap) {
        params.set('ButtonPayload', tap.payload);
        params.set('ButtonText', tap.text);
        params.set('MessageType', 'button');
      }
      if (input.replyTo) {
        params.set('OriginalRepliedMessageSid', input.replyTo);
        params.set('OriginalRepliedMessageSender', `whatsapp:${account.from}`);
      }
      return { ...signed(inboundUrl, params, 'valid', account), payload: Object.fromEntries(params) };
    },
    custom(body, signature, sender) {
      return signed(inboundUrl, new URLSearchParams(body), signature, senders.twilio(sender));
    },
  };
}

/**
 * ContentVariables as Twilio reads it: absent (null), or a JSON object of non-empty string values;
 * anything else (not JSON, an array, a null or empty value) is its error 21656 (undefined here).
 */
export function parseContentVariables(raw: string | null): Record<string, string> | null | undefined {
  if (raw === null) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const entries = Object.entries(parsed);
  if (entries.some(([, value]) => typeof value !== 'string' || value === '')) return undefined;
  return Object.fromEntries(entries) as Record<string, string>;
}

/** `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded, HTTP Basic auth. */
export async function twilioMessagesApi(app: FastifyInstance, opts: { state: SimulatorState }): Promise<void> {
  const { state } = opts;
  const { options, store, faults, held } = state;
  const webhooks = createTwilioWebhooks(options, state.senders);
  const basic = (a: { accountSid: string; authToken: string }) =>
    `Basic ${Buffer.from(`${a.accountSid}:${a.authToken}`).toString('base64')}`;

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) =>
    done(null, new URLSearchParams(String(body))),
  );

  function fail(reply: FastifyReply, to: string | null, code: number, outcome?: RequestOutcome): FastifyReply {
    const error = twilioError(code);
    store.addRequest({
      atMs: Date.now(),
      provider: TWILIO_PROVIDER,
      to,
      outcome: outcome ?? `error:${code}`,
      http_status: error.http,
      message_id: null,
    });
    return reply.code(error.http).send(error.body);
  }

  app.post<{ Params: { accountSid: string } }>('/2010-04-01/Accounts/:accountSid/Messages.json', async (request, reply) => {
    const form = request.body instanceof URLSearchParams ? request.body : new URLSearchParams();
    const rawTo = form.get('To');
    const to = rawTo?.startsWith('whatsapp:') ? rawTo.slice('whatsapp:'.length) : null;
    // An account added with POST /_sim/senders takes its own credentials; any other, the configured one.
    const account = state.senders.addedTwilio(request.params.accountSid) ?? options.twilio;
    if (request.headers.authorization !== basic(account) || request.params.accountSid !== account.accountSid) {
      return fail(reply, to, 20003);
    }
    if (!to || !/^\+\d{8,15}$/.test(to)) return fail(reply, rawTo ?? null, 21211);
    const from = form.get('From');
    if (!from?.startsWith('whatsapp:') && !form.get('MessagingServiceSid')) return fail(reply, to, 21211);
    const body = form.get('Body');
    const contentSid = form.get('ContentSid');
    const mediaUrls = form.getAll('MediaUrl');
    if (!body && !contentSid && mediaUrls.length === 0) return fail(reply, to, 21602);
    if (body && body.length > 1600) return fail(reply, to, 21617);
    if (mediaUrls.some((url) => !/^https?:\/\/[^\s/]+/.test(url))) return fail(reply, to, 21620);
    const contentVariables = contentSid ? parseContentVariables(form.get('ContentVariables')) : null;
    if (contentVariables === undefined) return fail(reply, to, 21656);

    // Body or media without a Content template needs the recipient's 24-hour window (with the option on).
    if (!contentSid && state.serviceWindow.refuses(TWILIO_PROVIDER, to.replace(/\D/g, ''))) return fail(reply, to, 63016);

    if (faults.isDown(TWILIO_PROVIDER, account.accountSid) || (from !== null && faults.isDown(TWILIO_PROVIDER, from))) {
      return fail(reply, to, 20503, 'down');
    }
    const outcome = faults.decide(to, from ?? undefined);
    if (outcome.latencyMs > 0) await held.hold(outcome.latencyMs);
    if (outcome.kind === 'error') return fail(reply, to, outcome.code);
    if (outcome.kind === 'http_429') {
      reply.header('retry-after', String(outcome.retryAfterS));
      return fail(reply, to, 20429, '429');
    }

    const record: MessageRecord = {
      id: newSid('SM'),
      provider: TWILIO_PROVIDER,
      to,
      type: contentSid ? 'template' : 'text',
      text: contentSid ? null : (body ?? null),
      template: contentSid ? { content_sid: contentSid, variables: contentVariables ?? {} } : null,
      media: mediaUrls.length > 0 ? mediaUrls : null,
      receivedAtMs: Date.now(),
      webhooks: [],
      sender: account.accountSid,
    };
    store.addMessage(record);
    store.addRequest({
      atMs: record.receivedAtMs,
      provider: TWILIO_PROVIDER,
      to,
      outcome: outcome.kind === 'timeout' ? 'timeout' : 'accepted',
      http_status: 201,
      message_id: record.id,
    });
    const callback = form.get('StatusCallback');
    if (callback) {
      scheduleStatuses(
        state,
        record,
        (status, _n, errorCode) =>
          // Twilio reports a message that never reached the handset as `undelivered`.
          webhooks.status(callback, record, from ?? '', status === 'failed' ? 'undelivered' : status, errorCode),
        outcome.kind === 'timeout',
      );
    }
    const answer = {
      sid: record.id,
      account_sid: account.accountSid,
      status: 'queued',
      to: `whatsapp:${to}`,
      from,
      body: body ?? '',
      error_code: null,
      error_message: null,
      date_created: new Date(record.receivedAtMs).toUTCString(),
    };
    if (outcome.kind === 'timeout') await held.hold(outcome.holdMs);
    return reply.code(201).send(answer);
  });
}
