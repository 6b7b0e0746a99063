import type { InboundMessage, StatusEvent } from '../schemas/jobs.ts';
import type { MediaAttachment } from '../schemas/message.ts';
import type { TemplateProviders } from '../templates/defaults.ts';

export type ProviderName = 'meta' | 'twilio' | 'myoperator';

/** What the worker hands to an adapter: the rendered text, and the template mapping if any. */
export interface OutgoingMessage {
  /** Herald's message id; providers without their own id correlate on it. */
  id: string;
  /** E.164 with "+". */
  to: string;
  text: string;
  /** The Herald template's provider mappings and the context their parameters come from. */
  template?: { type: string; providers: TemplateProviders; context: Record<string, string | number | boolean> };
  /** A text message's attachment; the text goes with it (Meta: as its caption; Twilio: as Body). */
  media?: MediaAttachment | undefined;
}

export interface SendResult {
  provider_message_id: string;
}

/**
 * A provider's refusal, classified. `retryable` errors are retried by BullMQ's backoff;
 * `throttled` ones pause the whole queue without using an attempt; `delay_recipient_ms` delays
 * only this message (Meta's pair rate limit).
 */
export class ProviderError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  readonly throttled: boolean;
  readonly retry_after_ms: number | undefined;
  readonly delay_recipient_ms: number | undefined;
  readonly http_status: number | undefined;
  /**
   * The request may have reached the provider (its whole body was written, then no readable
   * answer came: a timeout, a dropped connection): the provider may have accepted the message.
   * Never true for an HTTP answer (a 5xx is a refusal) or a connection that was never made.
   */
  readonly outcome_unknown: boolean;
  constructor(fields: {
    code: string;
    message: string;
    retryable: boolean;
    throttled?: boolean;
    retry_after_ms?: number | undefined;
    delay_recipient_ms?: number | undefined;
    http_status?: number | undefined;
    outcome_unknown?: boolean;
  }) {
    super(fields.message);
    this.name = 'ProviderError';
    this.code = fields.code;
    this.retryable = fields.retryable;
    this.throttled = fields.throttled ?? false;
    this.retry_after_ms = fields.retry_after_ms;
    this.delay_recipient_ms = fields.delay_recipient_ms;
    this.http_status = fields.http_status;
    this.outcome_unknown = fields.outcome_unknown ?? false;
  }
}

/** Everything a webhook route knows about a request; adapters verify and parse from it. */
export interface WebhookRequest {
  /** The body exactly as received: signatures are over these bytes. */
  rawBody: Buffer;
  /** The full public URL the provider called (with query string). */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  /** Form parameters, for form-encoded webhooks. */
  form?: Record<string, string | string[]>;
}

export interface ParsedWebhook {
  statuses: StatusEvent[];
  inbound: InboundMessage[];
  /** The provider's own id of this delivery (MyOperator's event_id); replays are refused on it. Default: the body's hash. */
  id?: string;
  /** A verified event Herald cannot map (MyOperator's undocumented sub-events): kept raw for inspection. */
  unmapped?: boolean;
}

/** The webhook half of an adapter: the API needs only this (and only the webhook secrets). */
export interface WebhookAdapter {
  readonly name: ProviderName;
  /** The header carrying the signature or shared secret: without it a request is counted as unsigned. */
  readonly signatureHeader: string;
  /** Constant-time check of the request's signature or shared secret. */
  verifyWebhook(request: WebhookRequest): boolean;
  /** Parses a verified webhook; throws on a body that is not the provider's shape. */
  parseWebhook(request: WebhookRequest): ParsedWebhook;
}

export interface WhatsAppProvider extends WebhookAdapter {
  /** Longest text the provider takes, in characters. */
  readonly maxTextLength: number;
  send(message: OutgoingMessage): Promise<SendResult>;
}

/** Parses a Retry-After header (seconds or HTTP date) into ms. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * Network-level failures (got's error codes). Whether the request may have arrived is read from
 * got's timings: `upload` is set once the whole request was written to the socket. Before that
 * (connection refused, DNS, a connect timeout, a socket closed mid-body) the provider cannot have
 * taken the message; after it, a timeout or a reset leaves the outcome unknown.
 */
export function networkError(err: unknown): ProviderError {
  const e = err as { code?: string; name?: string; message?: string; timings?: { upload?: number } };
  const timeout = e.name === 'TimeoutError' || e.code === 'ETIMEDOUT';
  const reached = e.timings?.upload !== undefined;
  const what = timeout ? 'provider did not answer in time' : `provider unreachable: ${e.message ?? 'unknown error'}`;
  return new ProviderError({
    code: timeout ? 'timeout' : (e.code ?? 'network_error'),
    message: reached ? `${what} after the request was sent (it may have been accepted)` : what,
    retryable: true,
    outcome_unknown: reached,
  });
}
