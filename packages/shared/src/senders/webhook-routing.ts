import { ENV_SENDER_ID } from './senders.ts';

/**
 * Which sender a message went out through: the fallback that sent it (`sent_by`, after a
 * failover), else its `sender` field, or for a message recorded before senders existed (no
 * field), the deployment's sender.
 */
export const messageSender = (message: { sender?: string | null | undefined; sent_by?: string | null | undefined }): string =>
  message.sent_by ?? message.sender ?? ENV_SENDER_ID;

/**
 * Whether an event that arrived through the webhooks of `eventSender` may change `message`: only
 * when the message was sent by that same sender, so a status or reply that came in through tenant
 * A's number never touches a message of tenant B. An event without a sender (queued by an API of
 * the release before senders) came through the deployment's webhooks.
 */
export function senderOwns(
  message: { sender?: string | null | undefined; sent_by?: string | null | undefined },
  eventSender: string | undefined,
): boolean {
  return messageSender(message) === (eventSender ?? ENV_SENDER_ID);
}

type MetaChange = { value?: { metadata?: { phone_number_id?: unknown } } };
type MetaBody = { object?: unknown; entry?: { id?: unknown; changes?: MetaChange[] }[] };

const asMetaBody = (json: unknown): MetaBody | null =>
  typeof json === 'object' && json !== null && Array.isArray((json as MetaBody).entry) ? (json as MetaBody) : null;

const phoneIdOf = (change: MetaChange): string | undefined => {
  const id = change?.value?.metadata?.phone_number_id;
  return typeof id === 'string' && id !== '' ? id : undefined;
};

/**
 * The business numbers a Meta webhook body speaks for: every `entry[].changes[].value.metadata.phone_number_id`,
 * once each. Empty for a body without them (template status and quality updates are per account,
 * not per number) or one that is not a Meta body.
 */
export function metaPhoneNumberIds(json: unknown): string[] {
  const body = asMetaBody(json);
  if (!body) return [];
  const ids = new Set<string>();
  for (const entry of body.entry ?? []) {
    for (const change of Array.isArray(entry?.changes) ? entry.changes : []) {
      const id = phoneIdOf(change);
      if (id) ids.add(id);
    }
  }
  return [...ids];
}

/**
 * A Meta body cut into one body per business number: each keeps the envelope and only the changes
 * whose `metadata.phone_number_id` is that number (changes without one go with `fallback`). Meta
 * batches the changes of several numbers of one app into one request; each number's part is then
 * parsed and queued for its own sender.
 */
export function splitMetaBody(json: unknown, fallback: string): Map<string, unknown> {
  const body = asMetaBody(json);
  const parts = new Map<string, { object: unknown; entry: { id?: unknown; changes: MetaChange[] }[] }>();
  if (!body) return new Map([[fallback, json]]);
  for (const entry of body.entry ?? []) {
    const changes = Array.isArray(entry?.changes) ? entry.changes : [];
    for (const change of changes) {
      const key = phoneIdOf(change) ?? fallback;
      let part = parts.get(key);
      if (!part) {
        part = { object: body.object, entry: [] };
        parts.set(key, part);
      }
      let last = part.entry.at(-1);
      if (!last || last.id !== entry.id) {
        last = { ...entry, changes: [] };
        part.entry.push(last);
      }
      last.changes.push(change);
    }
  }
  if (parts.size === 0) return new Map([[fallback, json]]);
  return parts;
}
