import type { Got } from 'got';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
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

// MyOperator's public documentation is thin (PROVIDERS.md): everything that shapes the wire is
// kept in this one file, and the parts most likely to differ (send path, webhook secret header)
// are configuration.

export interface MyOperatorOptions {
  /** e.g. https://publicapi.myoperator.co, or the simulator. */
  baseUrl: string;
  /** Path of the send endpoint. @defaultValue /chat/messages */
  sendPath: string;
  apiKey: string;
  companyId: string;
  phoneNumberId: string;
  /** Request timeout in ms. @defaultValue 10000 */
  timeoutMs?: number;
}

type Kind = 'throttle' | 'retry' | 'permanent';

/** MyOperator's error codes as far as they are known; the rest is classified by HTTP status. */
export const myOperatorErrors: Record<string, { kind: Kind; hint?: string }> = {
  CHAT_0302: { kind: 'permanent', hint: 'the WhatsApp Business Account is disabled' },
};

function classifyStatus(status: number): Kind {
  if (status === 429) return 'throttle';
  if (status >= 500) return 'retry';
  return 'permanent';
}

const errorBody = z.object({ code: z.union([z.string(), z.number()]).optional(), message: z.string().optional() }).loose();
const successBody = z.object({ status: z.literal('success') }).loose();

export class MyOperatorApi implements WhatsAppProvider {
  readonly name = 'myoperator' as const;
  readonly maxTextLength = 4096;
  readonly #http: Got;
  readonly #opts: MyOperatorOptions;
  readonly #webhooks: MyOperatorWebhooks;

  constructor(opts: MyOperatorOptions, webhooks: MyOperatorWebhooks = new MyOperatorWebhooks(undefined)) {
    this.#opts = opts;
    this.#webhooks = webhooks;
    this.#http = providerHttp({
      baseUrl: opts.baseUrl,
      timeoutMs: opts.timeoutMs,
      headers: { authorization: `Bearer ${opts.apiKey}`, 'x-myop-company-id': opts.companyId },
    });
  }

  async send(message: OutgoingMessage): Promise<SendResult> {
    const response = await postToProvider(this.#http, this.#opts.sendPath.replace(/^\/+/, ''), { json: this.buildBody(message) });
    const json = response.json;
    if (response.statusCode >= 200 && response.statusCode < 300 && successBody.safeParse(json).success) {
      // MyOperator may or may not return an id of its own; its webhooks carry `myop_ref_id`, our id.
      return { provider_message_id: message.id };
    }
    throw toMyOperatorError(response.statusCode, json, response.headers['retry-after']);
  }

  /** A template message when the Herald template has a MyOperator mapping, else text. */
  buildBody(message: OutgoingMessage): Record<string, unknown> {
    const phone = parsePhoneNumberFromString(message.to);
    const base = {
      phone_number_id: this.#opts.phoneNumberId,
      customer_country_code: phone?.countryCallingCode ?? '',
      customer_number: phone?.nationalNumber ?? message.to.replace(/\D/g, ''),
      myop_ref_id: message.id,
    };
    const mapping = message.template?.providers.myoperator;
    if (mapping && message.template) {
      const ctx = message.template.context;
      const body = Object.fromEntries(mapping.params.map((key, i) => [String(i + 1), String(cleanValue(ctx[key] ?? ''))]));
      return { ...base, data: { type: 'template', context: { template_name: mapping.template_name, language: mapping.language, body } } };
    }
    if (message.media) {
      // Refused at accept already; a message accepted under another provider fails here, plainly.
      throw new ProviderError({
        code: 'media_unsupported',
        message: "MyOperator's format for attachments is not public, so Herald sends none through it",
        retryable: false,
      });
    }
    return { ...base, data: { type: 'text', context: { body: message.text } } };
  }

  get signatureHeader() {
    return this.#webhooks.signatureHeader;
  }

  verifyWebhook(request: WebhookRequest): boolean {
    return this.#webhooks.verifyWebhook(request);
  }

  parseWebhook(request: WebhookRequest): ParsedWebhook {
    return this.#webhooks.parseWebhook(request);
  }
}

export function toMyOperatorError(status: number, json: unknown, retryAfter: string | string[] | undefined): ProviderError {
  const parsed = errorBody.safeParse(json);
  const code = parsed.success && parsed.data.code !== undefined ? String(parsed.data.code) : undefined;
  const known = code !== undefined ? myOperatorErrors[code] : undefined;
  const kind = known?.kind ?? classifyStatus(status);
  const text = parsed.success && parsed.data.message ? parsed.data.message : `HTTP ${status}`;
  return new ProviderError({
    // MyOperator echoes "200"-like codes in bodies; a code that is only the HTTP status says nothing more.
    code: code && code !== String(status) ? code : `http_${status}`,
    message: [text, known?.hint].filter(Boolean).join(' — '),
    retryable: kind !== 'permanent',
    throttled: kind === 'throttle',
    retry_after_ms: retryAfterMs(retryAfter),
    http_status: status,
  });
}

/** The v2 webhook envelope; the payload of WhatsApp sub-events is not public, so it is read loosely. */
const envelope = z
  .object({
    event_id: z.string().min(1),
    event_type: z.string(),
    timestamp: z.union([z.string(), z.number()]).optional(),
    customer_identifier: z.string().optional(),
    system_identifier: z.string().optional(),
    payload: z.record(z.string(), z.unknown()).optional(),
  })
  .loose();

const statusMap: Record<string, StatusEvent['status']> = {
  sent: 'sent',
  delivered: 'delivered',
  read: 'read',
  failed: 'failed',
  undelivered: 'failed',
};

function toIso(ts: string | number | undefined): string {
  if (ts === undefined) return new Date().toISOString();
  const n = Number(ts);
  if (Number.isFinite(n)) return new Date(n < 1e12 ? n * 1000 : n).toISOString();
  const d = Date.parse(String(ts));
  return Number.isNaN(d) ? new Date().toISOString() : new Date(d).toISOString();
}

const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : typeof v === 'number' ? String(v) : undefined);

/** MyOperator's webhook side: a shared secret in a header, events deduplicated on `event_id`. */
export class MyOperatorWebhooks implements WebhookAdapter {
  readonly name = 'myoperator' as const;
  readonly signatureHeader: string;
  readonly #secret: string | undefined;
  constructor(secret: string | undefined, header = 'x-myoperator-secret') {
    this.#secret = secret;
    this.signatureHeader = header.toLowerCase();
  }

  verifyWebhook(request: WebhookRequest): boolean {
    const given = request.headers[this.signatureHeader];
    if (!this.#secret || typeof given !== 'string') return false;
    return safeEqual(given, this.#secret);
  }

  parseWebhook(request: WebhookRequest): ParsedWebhook {
    const event = envelope.parse(JSON.parse(request.rawBody.toString('utf8')));
    const payload = event.payload ?? {};
    const at = toIso(event.timestamp);
    const statuses: StatusEvent[] = [];
    const inbound: InboundMessage[] = [];
    const status = statusMap[str(payload.status)?.toLowerCase() ?? ''];
    const heraldRef = str(payload.myop_ref_id);
    const ref = heraldRef ?? str(payload.ref_id) ?? event.system_identifier;
    const text = str(payload.text) ?? str((payload.message as { body?: unknown } | undefined)?.body);
    if (status && ref) {
      const error =
        status === 'failed'
          ? {
              code: str(payload.error_code) ?? 'unknown',
              message: str(payload.error_message) ?? `${str(payload.status)} reported by MyOperator`,
            }
          : undefined;
      const to = str(payload.to) ?? event.customer_identifier;
      statuses.push({
        provider_message_id: ref,
        status,
        at,
        key: `event:${event.event_id}`,
        ...(to ? { recipient: to } : {}),
        // myop_ref_id is the id Herald sent: also the proof for a send whose answer was lost.
        ...(heraldRef ? { herald_id: heraldRef } : {}),
        ...(error ? { error } : {}),
      });
    } else if (text !== undefined && (event.direction === 'inbound' || event.event_type.includes('received'))) {
      const from = str(payload.from) ?? event.customer_identifier;
      if (from) inbound.push({ from: from.startsWith('+') ? from : `+${from}`, text, at, provider_message_id: event.event_id });
    }
    return { statuses, inbound, id: `myoperator:${event.event_id}`, unmapped: statuses.length + inbound.length === 0 };
  }
}
