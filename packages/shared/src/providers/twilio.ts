import { createHmac } from 'node:crypto';
import type { Got } from 'got';
import { z } from 'zod';
import type { InboundMessage, StatusEvent } from '../schemas/jobs.ts';
import { safeEqual } from '../security/safe-equal.ts';
import { cleanValue } from '../templates/renderer.ts';
import { postToProvider, providerHttp } from './http.ts';
import {
  type OutgoingMessage,
  type ParsedWebhook,
  ProviderError,
  retryAfterMs,
  type SendResult,
  type WebhookAdapter,
  type WebhookRequest,
  type WhatsAppProvider,
} from './provider.ts';

export interface TwilioOptions {
  /** e.g. https://api.twilio.com, or the simulator. */
  baseUrl: string;
  accountSid: string;
  authToken: string;
  /** The WhatsApp sender, E.164 (`whatsapp:` is added). */
  from: string;
  /** Herald's public base URL: status callbacks go to `${publicBaseUrl}/api/v1/twilio/status`. */
  publicBaseUrl: string;
  /** Request timeout in ms. @defaultValue 10000 */
  timeoutMs?: number;
}

/** Where Twilio posts status callbacks; the signature is computed over this exact URL. */
export const twilioStatusPath = '/api/v1/twilio/status';

/** The Herald message id a status callback's URL carries (`?herald_id=`, set on the StatusCallback of each send). */
function heraldIdOf(url: string): string | undefined {
  try {
    return new URL(url, 'http://localhost').searchParams.get('herald_id') ?? undefined;
  } catch {
    return undefined;
  }
}

type Kind = 'throttle' | 'retry' | 'permanent';

/**
 * Twilio's error codes (PROVIDERS.md and Twilio's error dictionary). Classification goes by the
 * code first; a body without one falls back to the HTTP status.
 */
export const twilioErrors: Record<number, { kind: Kind; hint?: string }> = {
  20429: { kind: 'throttle' },
  63018: { kind: 'throttle', hint: 'WhatsApp channel rate limit' },
  20500: { kind: 'retry' },
  20503: { kind: 'retry' },
  30001: { kind: 'retry', hint: 'queue overflow' },
  21211: { kind: 'permanent', hint: "invalid 'To' number" },
  21408: { kind: 'permanent', hint: 'permission to send to this region not enabled' },
  21610: { kind: 'permanent', hint: 'recipient unsubscribed (replied STOP to Twilio)' },
  21620: { kind: 'permanent', hint: 'a media URL is malformed' },
  21656: { kind: 'permanent', hint: 'ContentVariables is not what the Content template expects (a value empty or missing)' },
  63016: {
    kind: 'permanent',
    hint: 'outside the 24 h window: only an approved template can be sent (give the template a Twilio ContentSid mapping)',
  },
  63003: { kind: 'permanent', hint: 'channel could not find the destination' },
  63007: { kind: 'permanent', hint: 'TWILIO_FROM is not a WhatsApp sender of this account' },
  20003: { kind: 'permanent', hint: 'authentication failed: check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN' },
  20404: { kind: 'permanent', hint: 'resource not found' },
};

function classifyStatus(status: number): Kind {
  if (status === 429) return 'throttle';
  if (status >= 500) return 'retry';
  return 'permanent';
}

const twilioErrorBody = z.object({ code: z.coerce.number().optional(), message: z.string().optional() });
const twilioSuccess = z.object({ sid: z.string().min(1) });

export class TwilioMessaging implements WhatsAppProvider {
  readonly name = 'twilio' as const;
  readonly maxTextLength = 1600;
  readonly #http: Got;
  readonly #path: string;
  readonly #opts: TwilioOptions;
  readonly #webhooks: TwilioWebhooks;

  constructor(opts: TwilioOptions) {
    this.#opts = opts;
    this.#webhooks = new TwilioWebhooks(opts.authToken);
    this.#path = `2010-04-01/Accounts/${opts.accountSid}/Messages.json`;
    this.#http = providerHttp({ baseUrl: opts.baseUrl, timeoutMs: opts.timeoutMs, username: opts.accountSid, password: opts.authToken });
  }

  async send(message: OutgoingMessage): Promise<SendResult> {
    const response = await postToProvider(this.#http, this.#path, { form: this.buildForm(message) });
    const json = response.json;
    if (response.statusCode >= 200 && response.statusCode < 300) {
      const ok = twilioSuccess.safeParse(json);
      if (ok.success) return { provider_message_id: ok.data.sid };
      throw new ProviderError({
        code: 'bad_response',
        message: 'Twilio answered 2xx without a sid (it may have accepted the message)',
        retryable: true,
        outcome_unknown: true,
      });
    }
    throw toTwilioError(response.statusCode, json, response.headers['retry-after']);
  }

  /**
   * ContentSid + ContentVariables when the template has a Twilio mapping, else Body (with
   * MediaUrl when the message carries an attachment; Twilio has no file name parameter, WhatsApp
   * shows the URL's).
   */
  buildForm(message: OutgoingMessage): Record<string, string> {
    const form: Record<string, string> = {
      To: `whatsapp:${message.to}`,
      From: `whatsapp:${this.#opts.from.replace(/^whatsapp:/, '')}`,
      // Herald's id in the callback URL comes back with every status of the message: the proof that
      // a send whose answer was lost was taken (issue 14). Twilio signs the URL with its query.
      StatusCallback: `${this.#opts.publicBaseUrl.replace(/\/+$/, '')}${twilioStatusPath}?herald_id=${encodeURIComponent(message.id)}`,
    };
    const mapping = message.template?.providers.twilio;
    if (mapping && message.template) {
      const ctx = message.template.context;
      const variables: Record<string, string> = Object.fromEntries(
        Object.entries(mapping.variables).map(([n, key]) => [n, String(cleanValue(ctx[key] ?? ''))]),
      );
      if (mapping.media) {
        // Accept checked that the URL starts with the prefix; the Content template holds the prefix.
        const url = String(ctx[mapping.media.url_from] ?? '');
        const prefix = mapping.media.url_prefix;
        variables[mapping.media.variable] = prefix && url.startsWith(prefix) ? url.slice(prefix.length) : url;
      }
      form.ContentSid = mapping.content_sid;
      form.ContentVariables = JSON.stringify(variables);
    } else {
      form.Body = message.text;
      if (message.media) form.MediaUrl = message.media.url;
    }
    return form;
  }

  verifyWebhook(request: WebhookRequest): boolean {
    return this.#webhooks.verifyWebhook(request);
  }

  parseWebhook(request: WebhookRequest): ParsedWebhook {
    return this.#webhooks.parseWebhook(request);
  }

  get signatureHeader() {
    return this.#webhooks.signatureHeader;
  }
}

export function toTwilioError(status: number, json: unknown, retryAfter: string | string[] | undefined): ProviderError {
  const parsed = twilioErrorBody.safeParse(json);
  const code = parsed.success ? parsed.data.code : undefined;
  const known = code !== undefined ? twilioErrors[code] : undefined;
  const kind = known?.kind ?? classifyStatus(status);
  const text = parsed.success && parsed.data.message ? parsed.data.message : `HTTP ${status}`;
  return new ProviderError({
    code: code !== undefined ? String(code) : `http_${status}`,
    message: [text, known?.hint].filter(Boolean).join(' — '),
    retryable: kind !== 'permanent',
    throttled: kind === 'throttle',
    retry_after_ms: retryAfterMs(retryAfter),
    http_status: status,
  });
}

/**
 * Twilio's request signature: the full URL, then each parameter sorted by name as name+value
 * (a repeated name: its values sorted), HMAC-SHA1 keyed with the auth token, base64.
 */
export function twilioSignature(authToken: string, url: string, params: Record<string, string | string[]>): string {
  let data = url;
  for (const name of Object.keys(params).sort()) {
    const value = params[name];
    const values = Array.isArray(value) ? [...value].sort() : [value ?? ''];
    for (const v of values) data += name + v;
  }
  return createHmac('sha1', authToken).update(Buffer.from(data, 'utf8')).digest('base64');
}

/** Form parameters of a raw `application/x-www-form-urlencoded` body, repeated names as arrays. */
export function parseForm(raw: Buffer | string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of new URLSearchParams(raw.toString())) {
    const prev = out[name];
    out[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return out;
}

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

/** Twilio's MessageStatus onto Herald's ladder; the rest (queued, accepted, sending…) adds nothing. */
const statusMap: Record<string, StatusEvent['status']> = {
  sent: 'sent',
  delivered: 'delivered',
  read: 'read',
  failed: 'failed',
  undelivered: 'failed',
};

/**
 * What Twilio adds to an incoming WhatsApp message that answers another: `OriginalRepliedMessageSid`
 * (the answered message's sid), and for a quick-reply button tap `ButtonPayload` (the button's id)
 * and `ButtonText` (its label, also the Body).
 */
function twilioReply(form: Record<string, string | string[]>): Pick<InboundMessage, 'reply_to' | 'reply'> {
  const replyTo = first(form.OriginalRepliedMessageSid);
  const payload = first(form.ButtonPayload);
  const title = first(form.ButtonText) ?? first(form.Body) ?? '';
  return {
    ...(replyTo ? { reply_to: replyTo } : {}),
    ...(payload ? { reply: { kind: 'quick_reply' as const, payload, title: title || payload } } : {}),
  };
}

/** Twilio's webhook side: the API needs only the auth token. */
export class TwilioWebhooks implements WebhookAdapter {
  readonly name = 'twilio' as const;
  readonly signatureHeader = 'x-twilio-signature';
  readonly #authToken: string | undefined;
  constructor(authToken: string | undefined) {
    this.#authToken = authToken;
  }

  /** X-Twilio-Signature over the public URL and the form parameters, compared in constant time. */
  verifyWebhook(request: WebhookRequest): boolean {
    const header = request.headers[this.signatureHeader];
    if (!this.#authToken || typeof header !== 'string' || header.length === 0) return false;
    return safeEqual(header, twilioSignature(this.#authToken, request.url, request.form ?? parseForm(request.rawBody)));
  }

  parseWebhook(request: WebhookRequest): ParsedWebhook {
    const form = request.form ?? parseForm(request.rawBody);
    const sid = first(form.MessageSid) ?? first(form.SmsSid);
    if (!sid) throw new Error('not a Twilio message webhook: no MessageSid');
    const statuses: StatusEvent[] = [];
    const inbound: InboundMessage[] = [];
    const messageStatus = first(form.MessageStatus) ?? first(form.SmsStatus);
    // Twilio's callbacks carry no event time; the time Herald received it stands in for it.
    const at = new Date().toISOString();
    if (messageStatus === 'received' || (messageStatus === undefined && first(form.Body) !== undefined)) {
      const from = (first(form.From) ?? '').replace(/^whatsapp:/, '');
      if (from) inbound.push({ from, text: first(form.Body) ?? '', at, provider_message_id: sid, ...twilioReply(form) });
      return { statuses, inbound };
    }
    const status = messageStatus ? statusMap[messageStatus] : undefined;
    if (status) {
      const code = first(form.ErrorCode);
      const error =
        status === 'failed'
          ? {
              code: code || 'unknown',
              message: `${messageStatus}${first(form.ErrorMessage) ? `: ${first(form.ErrorMessage)}` : ''}${code && twilioErrors[Number(code)]?.hint ? ` — ${twilioErrors[Number(code)]?.hint}` : ''}`,
            }
          : undefined;
      // One callback per status of a message: sid + status identifies it (Twilio sends no event time).
      const to = (first(form.To) ?? '').replace(/^whatsapp:/, '');
      const heraldId = heraldIdOf(request.url);
      statuses.push({
        provider_message_id: sid,
        status,
        at,
        key: `${messageStatus}:${sid}`,
        ...(to ? { recipient: to } : {}),
        ...(heraldId ? { herald_id: heraldId } : {}),
        ...(error ? { error } : {}),
      });
    }
    return { statuses, inbound };
  }
}
