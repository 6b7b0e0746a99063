import type { Got } from 'got';
import { z } from 'zod';
import type { TemplateProviders } from '../templates/defaults.ts';
import { cleanValue } from '../templates/renderer.ts';
import { postToProvider, providerHttp } from './http.ts';
import { MetaWebhooks } from './meta-webhooks.ts';
import {
  type OutgoingMessage,
  type ParsedWebhook,
  ProviderError,
  retryAfterMs,
  type SendResult,
  type WebhookRequest,
  type WhatsAppProvider,
} from './provider.ts';

export interface MetaOptions {
  /** e.g. https://graph.facebook.com, or the simulator. */
  baseUrl: string;
  /** Graph API version, e.g. v24.0. */
  apiVersion: string;
  phoneNumberId: string;
  accessToken: string;
  /** Signs X-Hub-Signature-256 on webhooks. */
  appSecret?: string | undefined;
  /** Request timeout in ms. @defaultValue 10000 */
  timeoutMs?: number;
}

type Kind = 'throttle' | 'recipient' | 'retry' | 'permanent';

/**
 * Meta's error codes (PROVIDERS.md). Classification goes by `error.code`, never by HTTP status,
 * except where a body has no code.
 */
const metaErrors: Record<number, { kind: Kind; hint?: string }> = {
  4: { kind: 'throttle' },
  80007: { kind: 'throttle' },
  130429: { kind: 'throttle' },
  131056: { kind: 'recipient' },
  131000: { kind: 'retry' },
  131016: { kind: 'retry' },
  2: { kind: 'retry' },
  133004: { kind: 'retry' },
  131057: { kind: 'retry' },
  131047: {
    kind: 'permanent',
    hint: 'more than 24 h since the recipient last wrote: only an approved template can be sent (give the template a Meta mapping)',
  },
  131026: { kind: 'permanent', hint: 'recipient cannot receive WhatsApp messages' },
  131048: { kind: 'permanent' },
  131049: { kind: 'permanent' },
  131050: { kind: 'permanent' },
  131051: { kind: 'permanent' },
  132000: { kind: 'permanent' },
  132001: { kind: 'permanent', hint: 'template missing or not approved' },
  132012: { kind: 'permanent' },
  132015: { kind: 'permanent' },
  132016: { kind: 'permanent' },
  100: { kind: 'permanent' },
  131008: { kind: 'permanent' },
  131009: { kind: 'permanent' },
  190: { kind: 'permanent', hint: 'access token expired: the operator must renew META_ACCESS_TOKEN' },
  0: { kind: 'permanent', hint: 'authentication failed' },
  10: { kind: 'permanent', hint: 'permission denied' },
  368: { kind: 'permanent' },
  131031: { kind: 'permanent' },
  131042: { kind: 'permanent' },
};

function classifyCode(code: number): Kind | undefined {
  const known = metaErrors[code]?.kind;
  if (known) return known;
  if (code >= 200 && code <= 299) return 'permanent'; // permission errors
  return undefined;
}

function classifyStatus(status: number): Kind {
  if (status === 429) return 'throttle';
  if (status >= 500) return 'retry';
  return 'permanent';
}

/** Meta suggests waiting 4^n seconds for the pair rate limit. */
export const pairRateLimitDelayMs = (timesDelayed: number) => 4 ** Math.min(timesDelayed + 1, 5) * 1000;

const metaErrorBody = z.object({
  error: z.object({
    message: z.string().optional(),
    code: z.number().optional(),
    error_data: z.object({ details: z.string().optional() }).partial().optional(),
  }),
});

const metaSuccess = z.object({ messages: z.array(z.object({ id: z.string() })).min(1) });

/** Longest caption of a media message, in characters (Meta's media object). */
const maxCaptionLength = 1024;

type MetaMapping = NonNullable<TemplateProviders['meta']>;
type Context = Record<string, string | number | boolean>;

/**
 * A Meta mapping and a message's context as Meta's template components: the header, the body
 * parameters (positional, or named with `parameter_name`) and one component per button with a
 * parameter, each value taken from its context key.
 */
export function metaTemplateComponents(mapping: MetaMapping, ctx: Context): Record<string, unknown>[] {
  const value = (key: string) => String(cleanValue(ctx[key] ?? ''));
  const components: Record<string, unknown>[] = [];
  const header = mapping.header;
  if (header?.type === 'text') {
    const parameter = {
      type: 'text',
      ...(header.parameter_name ? { parameter_name: header.parameter_name } : {}),
      text: value(header.text_from),
    };
    components.push({ type: 'header', parameters: [parameter] });
  } else if (header) {
    const media: Record<string, string> =
      header.link_from !== undefined
        ? { link: value(header.link_from) }
        : { id: header.id_from !== undefined ? value(header.id_from) : (header.id ?? '') };
    if (header.type === 'document') {
      const filename = header.filename_from !== undefined ? value(header.filename_from) : header.filename;
      if (filename) media.filename = filename;
    }
    components.push({ type: 'header', parameters: [{ type: header.type, [header.type]: media }] });
  }
  if (mapping.params) {
    // The original form: the body component is always sent, even without parameters.
    components.push({ type: 'body', parameters: mapping.params.map((key) => ({ type: 'text', text: value(key) })) });
  } else if (mapping.body && mapping.body.length > 0) {
    const parameters = mapping.body.map((item) =>
      typeof item === 'string'
        ? { type: 'text', text: value(item) }
        : { type: 'text', parameter_name: item.parameter_name, text: value(item.from) },
    );
    components.push({ type: 'body', parameters });
  }
  for (const button of mapping.buttons ?? []) {
    // Meta's spec types the index as a string.
    const index = String(button.index);
    if (button.type === 'url') {
      components.push({ type: 'button', sub_type: 'url', index, parameters: [{ type: 'text', text: value(button.suffix_from) }] });
    } else if (button.type === 'quick_reply') {
      const payload = button.payload_from !== undefined ? value(button.payload_from) : (button.payload ?? '');
      components.push({ type: 'button', sub_type: 'quick_reply', index, parameters: [{ type: 'payload', payload }] });
    } else {
      const coupon = value(button.coupon_code_from);
      components.push({ type: 'button', sub_type: 'copy_code', index, parameters: [{ type: 'coupon_code', coupon_code: coupon }] });
    }
  }
  return components;
}

export class MetaCloudApi implements WhatsAppProvider {
  readonly name = 'meta' as const;
  readonly maxTextLength = 4096;
  readonly #http: Got;
  readonly #path: string;
  readonly #webhooks: MetaWebhooks;

  constructor(opts: MetaOptions) {
    this.#webhooks = new MetaWebhooks(opts.appSecret);
    this.#path = `${opts.apiVersion}/${opts.phoneNumberId}/messages`;
    this.#http = providerHttp({
      baseUrl: opts.baseUrl,
      timeoutMs: opts.timeoutMs,
      headers: { authorization: `Bearer ${opts.accessToken}` },
    });
  }

  async send(message: OutgoingMessage): Promise<SendResult> {
    const response = await postToProvider(this.#http, this.#path, { json: this.buildBody(message) });
    const json = response.json;
    if (response.statusCode >= 200 && response.statusCode < 300) {
      const ok = metaSuccess.safeParse(json);
      if (ok.success && ok.data.messages[0]) return { provider_message_id: ok.data.messages[0].id };
      throw new ProviderError({
        code: 'bad_response',
        message: 'Meta answered 2xx without a message id (it may have accepted the message)',
        retryable: true,
        outcome_unknown: true,
      });
    }
    throw this.toError(response.statusCode, json, response.headers['retry-after']);
  }

  /**
   * Template message when the Herald template has a Meta mapping, else a text message, or a
   * document/image message whose caption is the text when the message carries an attachment.
   */
  buildBody(message: OutgoingMessage): Record<string, unknown> {
    // Herald's id travels with the message and comes back in each of its status webhooks: the proof
    // that a send whose answer was lost was taken (issue 14). Meta: "an arbitrary string, useful for
    // tracking", at most 512 characters; Cloud API does not process it.
    const base = {
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: message.to,
      biz_opaque_callback_data: message.id,
    };
    const mapping = message.template?.providers.meta;
    if (mapping && message.template) {
      const components = metaTemplateComponents(mapping, message.template.context);
      return {
        ...base,
        type: 'template',
        template: {
          name: mapping.name,
          // `policy` is required by Meta's spec; `deterministic` is its only value.
          language: { policy: 'deterministic', code: mapping.language },
          ...(components.length > 0 ? { components } : {}),
        },
      };
    }
    if (message.media) {
      const { type, url, filename } = message.media;
      if (message.text.length > maxCaptionLength) {
        throw new ProviderError({
          code: 'caption_too_long',
          message: `rendered text is ${message.text.length} characters; Meta takes at most ${maxCaptionLength} as the caption of a ${type}`,
          retryable: false,
        });
      }
      const media = {
        link: url,
        ...(message.text ? { caption: message.text } : {}),
        ...(type === 'document' && filename ? { filename } : {}),
      };
      return { ...base, type, [type]: media };
    }
    return { ...base, type: 'text', text: { preview_url: false, body: message.text } };
  }

  toError(status: number, json: unknown, retryAfter: string | string[] | undefined): ProviderError {
    const parsed = metaErrorBody.safeParse(json);
    const code = parsed.success ? parsed.data.error.code : undefined;
    const kind = (code !== undefined ? classifyCode(code) : undefined) ?? classifyStatus(status);
    const details = parsed.success ? parsed.data.error.error_data?.details : undefined;
    const text = parsed.success ? (parsed.data.error.message ?? `HTTP ${status}`) : `HTTP ${status}`;
    const hint = code !== undefined ? metaErrors[code]?.hint : undefined;
    const message = [text, details, hint].filter(Boolean).join(' — ');
    return new ProviderError({
      code: code !== undefined ? String(code) : `http_${status}`,
      message,
      retryable: kind !== 'permanent',
      throttled: kind === 'throttle',
      retry_after_ms: retryAfterMs(retryAfter),
      delay_recipient_ms: kind === 'recipient' ? pairRateLimitDelayMs(0) : undefined,
      http_status: status,
    });
  }

  readonly signatureHeader = 'x-hub-signature-256';

  verifyWebhook(request: WebhookRequest): boolean {
    return this.#webhooks.verifyWebhook(request);
  }

  parseWebhook(request: WebhookRequest): ParsedWebhook {
    return this.#webhooks.parseWebhook(request);
  }
}
