import type { MessageDetail, MessageView } from '../schemas/message.ts';
import { ENV_SENDER_ID } from '../senders/senders.ts';
import type { MessageDocument } from './record.ts';

/** Latency bucket edges in ms (SPEC 2.2). */
export const latencyBuckets = [100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 900000, 3600000, 86400000] as const;

/** The upper edge of the bucket holding `ms`, or null beyond the last edge. */
export function latencyBucket(ms: number): number | null {
  for (const edge of latencyBuckets) if (ms <= edge) return edge;
  return null;
}

/** Spans from second-resolution provider timestamps can be negative; they count as 0. */
export const spanMs = (from: Date, to: Date) => Math.max(0, to.getTime() - from.getTime());

/** UTC day key of a date: `YYYY-MM-DD`. */
export const dayKey = (d: Date) => d.toISOString().slice(0, 10);

type Required_ = '_id' | 'tenant' | 'phone' | 'message_type' | 'context' | 'status' | 'provider' | 'created_at';

/**
 * A new message record: everything not given starts empty, and the statistics day key is derived
 * from created_at here, in one place.
 */
export function newMessageDocument(fields: Pick<MessageDocument, Required_> & Partial<MessageDocument>): MessageDocument {
  return {
    reference_id: null,
    message_text: null,
    template_version: null,
    provider_message_id: null,
    idempotency_key: null,
    callback_url: null,
    request_id: null,
    day: dayKey(fields.created_at),
    send_at: null,
    expires_at: null,
    queued_at: null,
    sent_at: null,
    delivered_at: null,
    read_at: null,
    failed_at: null,
    attempts: 0,
    error: null,
    events: [],
    event_keys: [],
    ...fields,
  };
}

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

export function toView(doc: MessageDocument): MessageView {
  return {
    id: doc._id,
    phone: doc.phone,
    message_type: doc.message_type,
    status: doc.status,
    message_text: doc.message_text ?? null,
    reference_id: doc.reference_id ?? null,
    created_at: doc.created_at.toISOString(),
    sent_at: iso(doc.sent_at),
    provider: doc.provider,
    provider_message_id: doc.provider_message_id ?? null,
    sender: doc.sender ?? ENV_SENDER_ID,
  };
}

export function toDetail(doc: MessageDocument): MessageDetail {
  return {
    ...toView(doc),
    tenant: doc.tenant,
    sent_by: doc.sent_by ?? null,
    context: doc.context,
    template_version: doc.template_version ?? null,
    attempts: doc.attempts ?? 0,
    send_at: iso(doc.send_at),
    expires_at: iso(doc.expires_at),
    queued_at: iso(doc.queued_at),
    delivered_at: iso(doc.delivered_at),
    read_at: iso(doc.read_at),
    failed_at: iso(doc.failed_at),
    error: doc.error ?? null,
    media: doc.media ?? null,
    events: doc.events ?? [],
  };
}
