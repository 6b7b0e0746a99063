import type { Context, MediaAttachment, MessageEvent, MessageStatus } from '../schemas/message.ts';
import type { TemplateDocument } from '../templates/defaults.ts';

// The records Herald keeps, as plain types. They are the domain's shape, not the database's:
// packages/store writes and reads them (and is the only code that knows how), everything else
// takes them from here.

export interface MessageError {
  code: string;
  message: string;
  retryable: boolean;
}

/** A message as recorded in history (`notifications_log`, SPEC 6). */
export interface MessageDocument {
  _id: string;
  tenant: string;
  phone: string;
  message_type: string;
  context: Context;
  reference_id: string | null;
  status: MessageStatus;
  message_text: string | null;
  template_version: number | null;
  provider: string;
  /** The sender it goes through (issue 13); absent on records from before senders: `env`. */
  sender?: string;
  /**
   * The sender that actually sent it, when that was not `sender`: its fallback, while `sender`'s
   * circuit breaker was open (issue 14). Its webhooks are the ones that apply.
   */
  sent_by?: string;
  provider_message_id: string | null;
  idempotency_key: string | null;
  callback_url: string | null;
  request_id: string | null;
  /** A text message's attachment (absent on messages without one, and on records before it existed). */
  media?: MediaAttachment;
  created_at: Date;
  /** UTC day of created_at, `YYYY-MM-DD`: statistics group on it without date operators. */
  day: string;
  send_at: Date | null;
  expires_at: Date | null;
  queued_at: Date | null;
  sent_at: Date | null;
  delivered_at: Date | null;
  read_at: Date | null;
  failed_at: Date | null;
  attempts: number;
  error: MessageError | null;
  events: MessageEvent[];
  /** `status:providerTimestamp` of every applied provider event: a repeat adds nothing. */
  event_keys: string[];
  /** Latency spans in ms and their bucket edge, stored when the span ends (SPEC 2.2). */
  queued_to_sent_ms?: number;
  queued_to_sent_bucket?: number;
  sent_to_delivered_ms?: number;
  sent_to_delivered_bucket?: number;
}

/** A recipient's preferences (`notification_settings`, `_id` = E.164 phone). */
export interface SettingsDocument {
  _id: string;
  opted_out: boolean;
  disabled_types: string[];
  updated_at: Date;
  source: string;
}

/** One saved version of a template (`notification_template_versions`, `_id` = `type:version`). */
export interface TemplateVersionDocument extends Omit<TemplateDocument, '_id'> {
  _id: string;
}

/** A webhook event Herald could not match to a message, kept for inspection. */
export interface OrphanEvent {
  id: string;
  provider: string;
  /** The provider's id the event names, when it was parsed; null for a raw body Herald cannot map. */
  provider_message_id: string | null;
  status: string | null;
  /** The recipient's number as digits (no `+`) where the event names one: erasure finds it by this. */
  recipient: string | null;
  /** The event as received (parsed event or raw body). */
  event: unknown;
  received_at: Date;
  kept_at: Date;
}

const dateFields = ['created_at', 'send_at', 'expires_at', 'queued_at', 'sent_at', 'delivered_at', 'read_at', 'failed_at'] as const;

/** A record as a job carries it: dates as ISO strings (what JSON makes of them anyway). */
export function recordToJson(doc: MessageDocument): Record<string, unknown> {
  const out: Record<string, unknown> = { ...doc };
  for (const f of dateFields) out[f] = doc[f] ? (doc[f] as Date).toISOString() : null;
  return out;
}

/** The record a job carries, with its dates back. */
export function recordFromJson(json: Record<string, unknown>): MessageDocument {
  const out = { ...json } as Record<string, unknown>;
  for (const f of dateFields) out[f] = typeof json[f] === 'string' ? new Date(json[f] as string) : null;
  return out as unknown as MessageDocument;
}
