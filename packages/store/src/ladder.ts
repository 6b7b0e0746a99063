import {
  below,
  type LadderStatus,
  latencyBucket,
  type MessageDocument,
  type MessageError,
  type MessageEvent,
  type MessageStatus,
  type StatusEvent,
  spanMs,
} from '@herald/shared';
import type { StatsView } from './stats.ts';

/** What the ladder needs of a message (and what a status change tells its callback). */
export type Snapshot = Pick<MessageDocument, '_id' | 'status' | 'sent_at' | 'delivered_at' | 'provider_message_id' | 'event_keys'> &
  Partial<Pick<MessageDocument, 'callback_url' | 'reference_id'>> &
  StatsView;

/** One message's events folded: the fields that change, the timeline entries and dedup keys added. */
export interface Fold {
  set: Partial<MessageDocument>;
  entries: MessageEvent[];
  keys: string[];
}

const eventKey = (ev: StatusEvent) => ev.key ?? `${ev.status}:${ev.at}`;
const isBelow = (status: MessageStatus, target: LadderStatus) => (below(target) as MessageStatus[]).includes(status);

/** Ties between events of the same provider time go up the ladder (a failure sits where delivery would). */
const tieRank: Record<StatusEvent['status'], number> = { sent: 0, delivered: 1, failed: 1, read: 2 };

/**
 * Folds provider events into one update of a message, in the provider's time order (events
 * gathered from several webhooks may arrive in any order; ties go up the ladder). An event already
 * recorded (same status and provider timestamp) adds nothing; a status only moves up the ladder
 * (SPEC 3): a late `sent` or `delivered` is only an event, `read` implies `delivered`, and a
 * failure after delivery is only an event. Returns undefined when nothing changes.
 */
export function foldEvents(doc: Snapshot, events: StatusEvent[]): Fold | undefined {
  const seen = new Set(doc.event_keys ?? []);
  const entries: MessageEvent[] = [];
  const keys: string[] = [];
  const set: Partial<MessageDocument> = {};
  let status = doc.status;
  let deliveredAt = doc.delivered_at;

  const delivered = (at: Date) => {
    deliveredAt = at;
    set.delivered_at = at;
    if (doc.sent_at) {
      const span = spanMs(doc.sent_at, at);
      set.sent_to_delivered_ms = span;
      const bucket = latencyBucket(span);
      if (bucket !== null) set.sent_to_delivered_bucket = bucket;
    }
  };

  const ordered = [...events].sort((x, y) => Date.parse(x.at) - Date.parse(y.at) || tieRank[x.status] - tieRank[y.status]);
  for (const ev of ordered) {
    const key = eventKey(ev);
    if (seen.has(key)) continue;
    seen.add(key);
    keys.push(key);
    entries.push({
      status: ev.status,
      at: ev.at,
      source: 'webhook',
      attempt: null,
      detail: ev.error ? `${ev.error.code}: ${ev.error.message}` : null,
    });
    const at = new Date(ev.at);
    switch (ev.status) {
      case 'sent':
        if (isBelow(status, 'sent')) status = 'sent';
        break;
      case 'delivered':
        if (isBelow(status, 'delivered')) {
          status = 'delivered';
          delivered(at);
        }
        break;
      case 'read':
        if (isBelow(status, 'delivered') || status === 'delivered') {
          // A message read at once may never get `delivered`: reading implies delivery.
          if (!deliveredAt || status !== 'delivered') delivered(at);
          status = 'read';
          set.read_at = at;
        }
        break;
      case 'failed':
        if (isBelow(status, 'delivered')) {
          status = 'failed';
          set.failed_at = at;
          set.error = {
            code: ev.error?.code ?? 'unknown',
            message: ev.error?.message ?? 'reported failed by the provider',
            retryable: false,
          } satisfies MessageError;
        }
        break;
    }
  }
  if (entries.length === 0) return undefined;
  if (status !== doc.status) set.status = status;
  return { set, entries, keys };
}
