import type { ContextValue, ErrorIssue, MediaAttachment, MessageDetail, MessageStatus, MessageView } from './types.ts';

/**
 * Typed client for upstream services (SPEC 7). No dependencies beyond the platform's `fetch`
 * (Node 18+):
 * `send` and `sendBulk` take the HTTP API's bodies as they are, and one helper per business
 * event fills in the message type and the variables its default template needs (SPEC 6).
 *
 * ```ts
 * const herald = new HeraldClient({ baseUrl: 'http://127.0.0.1:3000', token: process.env.HERALD_TOKEN });
 * await herald.orderConfirmation('+919876543210', { order_id: 'A-17', delivery_date: '2026-02-01', total_amount: 420 },
 *   { reference_id: 'order_A-17', idempotency_key: 'order_A-17:confirmation' });
 * ```
 */

/** Options every send takes besides the phone, type and context (SPEC 2.1). */
export interface SendOptions {
  reference_id?: string;
  /** Default true: the answer waits briefly for the first attempt. */
  immediate?: boolean;
  /** ISO 8601 with offset, e.g. `2026-02-01T06:00:00+05:30`, or a Date. */
  send_at?: string | Date;
  expires_at?: string | Date;
  idempotency_key?: string;
  callback_url?: string;
  /** One attachment of a text message (a template without a mapping for the provider). */
  media?: MediaAttachment;
  /** The sender (WhatsApp number) to send from; default: your tenant's default, else the deployment's. */
  sender?: string;
}

export interface SendRequest extends SendOptions {
  phone: string;
  message_type: string;
  context: Record<string, ContextValue>;
}

export interface SendResult {
  /** 200: sent, failed for good or suppressed; 202: still on its way. */
  httpStatus: number;
  message: MessageView;
}

export type BulkItemResult =
  | { index: number; id: string; status: MessageStatus }
  | { index: number; error: string; message: string; issues?: ErrorIssue[] };

export interface HistoryQuery {
  phone?: string;
  reference_id?: string;
  status?: MessageStatus;
  message_type?: string;
  days?: number;
  from?: string;
  to?: string;
  limit?: number;
  skip?: number;
  cursor?: string;
  tenant?: string;
}

export interface HistoryPage {
  items: MessageView[];
  total: number;
  limit: number;
  skip: number;
  next_cursor: string | null;
}

export interface HeraldClientOptions {
  /** Where Herald's API is, e.g. `https://herald.internal`. */
  baseUrl: string;
  /** A service token, or a function returning a fresh one (rotation). */
  token: string | (() => string | Promise<string>);
  /** Per request, in ms. @defaultValue 10000 */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** A 4xx/5xx answer: the envelope of SPEC 2 as an error. */
export class HeraldApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly issues: ErrorIssue[] | undefined;
  constructor(status: number, code: string, message: string, issues?: ErrorIssue[]) {
    super(message);
    this.name = 'HeraldApiError';
    this.status = status;
    this.code = code;
    this.issues = issues;
  }
}

const iso = (v: string | Date | undefined) => (v instanceof Date ? v.toISOString() : v);

export class HeraldClient {
  readonly #base: string;
  readonly #token: HeraldClientOptions['token'];
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(opts: HeraldClientOptions) {
    this.#base = opts.baseUrl.replace(/\/+$/, '');
    this.#token = opts.token;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
    this.#fetch = opts.fetch ?? fetch;
  }

  async #request<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const token = typeof this.#token === 'function' ? await this.#token() : this.#token;
    const res = await this.#fetch(`${this.#base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(this.#timeoutMs),
    });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (res.status >= 400) {
      const env = (parsed ?? {}) as { error?: string; message?: string; issues?: ErrorIssue[] };
      throw new HeraldApiError(res.status, env.error ?? 'internal', env.message ?? `HTTP ${res.status}`, env.issues);
    }
    return { status: res.status, body: parsed as T };
  }

  /** POST /api/notifications/send-message. */
  async send(request: SendRequest): Promise<SendResult> {
    const { status, body } = await this.#request<MessageView>('POST', '/api/notifications/send-message', {
      ...request,
      send_at: iso(request.send_at),
      expires_at: iso(request.expires_at),
    });
    return { httpStatus: status, message: body };
  }

  /** POST /api/notifications/send-bulk: up to 1,000; a result per item, in order. */
  async sendBulk(messages: SendRequest[]): Promise<BulkItemResult[]> {
    const payload = messages.map((m) => ({ ...m, send_at: iso(m.send_at), expires_at: iso(m.expires_at) }));
    const { body } = await this.#request<{ results: BulkItemResult[] }>('POST', '/api/notifications/send-bulk', { messages: payload });
    return body.results;
  }

  getMessage(id: string): Promise<MessageDetail> {
    return this.#request<MessageDetail>('GET', `/api/notifications/messages/${encodeURIComponent(id)}`).then((r) => r.body);
  }

  /** Cancels a queued or scheduled message (409 otherwise). */
  cancel(id: string): Promise<MessageView> {
    return this.#request<MessageView>('DELETE', `/api/notifications/messages/${encodeURIComponent(id)}`).then((r) => r.body);
  }

  history(query: HistoryQuery = {}): Promise<HistoryPage> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) qs.set(k, String(v));
    const search = qs.toString();
    const suffix = search ? `?${search}` : '';
    return this.#request<HistoryPage>('GET', `/api/notifications/history${suffix}`).then((r) => r.body);
  }

  #event(message_type: string, phone: string, context: object, options: SendOptions = {}) {
    return this.send({ ...options, phone, message_type, context: context as Record<string, ContextValue> });
  }

  // One helper per business event of the original contract, with its template's variables.

  orderConfirmation(phone: string, ctx: { order_id: string; delivery_date: string; total_amount: string | number }, options?: SendOptions) {
    return this.#event('order_confirmation', phone, ctx, options);
  }

  subscriptionConfirmation(phone: string, ctx: { product: string; start_date: string }, options?: SendOptions) {
    return this.#event('subscription_confirmation', phone, ctx, options);
  }

  deliveryConfirmed(phone: string, ctx: { customer_name: string; delivery_date: string }, options?: SendOptions) {
    return this.#event('delivery_confirmed', phone, ctx, options);
  }

  paymentConfirmation(phone: string, ctx: { amount: string | number; period: string; payment_method: string }, options?: SendOptions) {
    return this.#event('payment_confirmation', phone, ctx, options);
  }

  deliveryReminder(phone: string, ctx: { customer_name: string; delivery_date: string }, options?: SendOptions) {
    return this.#event('delivery_reminder', phone, ctx, options);
  }

  paymentReminder(phone: string, ctx: { amount: string | number; period: string }, options?: SendOptions) {
    return this.#event('payment_reminder', phone, ctx, options);
  }

  pauseConfirmation(phone: string, ctx: { resume_date: string }, options?: SendOptions) {
    return this.#event('pause_confirmation', phone, ctx, options);
  }

  churnRisk(phone: string, ctx: { customer_name: string }, options?: SendOptions) {
    return this.#event('churn_risk', phone, ctx, options);
  }

  newProductAlert(phone: string, ctx: { product: string; availability_date: string }, options?: SendOptions) {
    return this.#event('new_product', phone, ctx, options);
  }
}
