// The HTTP API's shapes as plain types, so this package needs nothing at runtime but `fetch`.
// They mirror the zod schemas of @herald/shared (schemas/message.ts, schemas/jobs.ts, errors);
// test/types.test.ts fails the typecheck when the two drift apart.

/** Statuses in ladder order, then the final ones (SPEC 3). */
export type MessageStatus =
  | 'scheduled'
  | 'queued'
  | 'sending'
  | 'sent'
  | 'delivered'
  | 'read'
  | 'failed'
  | 'cancelled'
  | 'suppressed'
  | 'expired';

export type ContextValue = string | number | boolean;

/** One field problem of a 400 (SPEC 2). */
export interface ErrorIssue {
  /** Dotted path of the offending field, e.g. `context.customer_name`. */
  path: string;
  message: string;
}

/** A message as the send, cancel and history endpoints return it. */
export interface MessageView {
  id: string;
  phone: string;
  message_type: string;
  status: MessageStatus;
  message_text: string | null;
  reference_id: string | null;
  created_at: string;
  sent_at: string | null;
  provider: string;
  provider_message_id: string | null;
  /** The sender (WhatsApp number) it goes through; `env`: the deployment's. */
  sender: string;
}

/**
 * What a recipient tapped on a message: a template's quick-reply button (`quick_reply`), an
 * interactive reply button (`button_reply`) or a list row (`list_reply`).
 */
export interface Reply {
  kind: 'quick_reply' | 'button_reply' | 'list_reply';
  /** What your template or message put on the button or row (its payload or id). */
  payload: string;
  /** The label the recipient saw. */
  title: string;
  /** A list row's description, when it has one. */
  description?: string | undefined;
}

export interface MessageEvent {
  /** A status, an attempt outcome such as `attempt_failed`, or `reply`. */
  status: string;
  at: string;
  source: 'api' | 'worker' | 'webhook' | 'admin';
  attempt?: number | null | undefined;
  detail?: string | null | undefined;
  /** On a `reply` entry: what the recipient tapped. */
  reply?: Reply | undefined;
}

/**
 * A text message's one attachment: Meta sends a document or image message with the text as its
 * caption, Twilio MediaUrl with the text as Body. `url`: https, public host.
 */
export interface MediaAttachment {
  type: 'document' | 'image';
  url: string;
  /** The file name the recipient sees; documents only (Meta). */
  filename?: string | undefined;
}

/** GET /api/notifications/messages/{id}: the view plus context, times, error and events. */
export interface MessageDetail extends MessageView {
  tenant: string;
  /** The fallback sender that sent it while its own sender's circuit breaker was open; null: its own sender. */
  sent_by: string | null;
  context: Record<string, ContextValue>;
  template_version: number | null;
  attempts: number;
  send_at: string | null;
  expires_at: string | null;
  queued_at: string | null;
  delivered_at: string | null;
  read_at: string | null;
  failed_at: string | null;
  error: { code: string; message: string; retryable: boolean } | null;
  media: MediaAttachment | null;
  events: MessageEvent[];
}

/**
 * The body POSTed to a message's callback_url: on each status change (`event: "status"`), and on
 * each reply to the message (`event: "reply"`, with `reply`; `status` is then the message's
 * current status, not a change). `event` is absent only from callbacks queued by a release before
 * replies existed, which are all status changes.
 */
export interface CallbackPayload {
  event?: 'status' | 'reply' | undefined;
  id: string;
  /** The new status (`event: "status"`), or the message's status when the reply came. */
  status: string;
  at: string;
  /** Per message, increasing: keep the highest one seen. */
  sequence: number;
  reference_id: string | null;
  provider_message_id: string | null;
  error: { code: string; message: string } | null;
  /** With `event: "reply"`: what the recipient tapped. */
  reply?: Reply | undefined;
}
