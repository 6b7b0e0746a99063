import { metaPhoneNumberIds, type ProviderName, splitMetaBody, type WebhookRequest } from '@herald/shared';
import type { WebhookSender, WebhookSenders } from './webhook-senders.ts';

/** One sender's share of a webhook request: who it is, and the body its events are parsed from. */
export interface RoutedPart {
  sender: WebhookSender;
  /** The request as its sender's adapter parses it (the whole request, or that sender's part of a Meta batch). */
  request: WebhookRequest;
}

/**
 * Where a webhook goes: to one or more senders (each of whose secrets must verify the request as
 * received), nowhere because it names a number or account no sender here has (`unknown`), or
 * nowhere because it names none and the deployment has no secret for the provider (`not_configured`).
 */
export type WebhookRoute =
  | { kind: 'routed'; parts: RoutedPart[] }
  | { kind: 'unknown'; provider: ProviderName; identifier: string }
  | { kind: 'not_configured' };

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined);
const bareNumber = (v: string | undefined) => v?.replace(/^whatsapp:/, '').trim();

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * The deployment's sender takes a number or account no stored sender has when it is its own (the
 * environment's id), or, when the deployment's secret verifies the request, any other of its
 * app's or account's numbers — as every release before senders did.
 */
function envClaims(env: WebhookSender | undefined, name: string, value: string, request: WebhookRequest): env is WebhookSender {
  if (!env) return false;
  const own = env.identifiers[name];
  return own === value || env.adapter.verifyWebhook(request);
}

/**
 * A number or account no stored sender has: unknown, or, where the deployment has no secret for
 * the provider either, not configured (the answer every release before senders gave).
 */
const unknownOr = (env: WebhookSender | undefined, provider: ProviderName, identifier: string): WebhookRoute =>
  env ? { kind: 'unknown', provider, identifier } : { kind: 'not_configured' };

/**
 * Of the stored senders found by the number or account, the one the webhook is for: the one whose
 * second identifier the webhook also names (several senders can share a Twilio account or a
 * MyOperator company), else the only one. Several and none named: undefined (refused as unknown).
 */
function pick(found: WebhookSender[], second: string, named: (string | undefined)[]): WebhookSender | undefined {
  const values = new Set(named.filter((v): v is string => v !== undefined));
  const exact = found.filter((s) => {
    const own = s.identifiers[second];
    return own !== undefined && values.has(second === 'from' ? (bareNumber(own) as string) : own);
  });
  if (exact.length > 0) return exact[0];
  return found.length === 1 ? found[0] : undefined;
}

/**
 * Meta: by each change's `metadata.phone_number_id`. A request naming several numbers (Meta
 * batches the numbers of one app) is split, each number's changes going to its own sender, and is
 * taken only if every one of those senders' app secrets verifies it (numbers of one app share its
 * secret; a body signed by another app's secret never reaches these senders). A body naming no
 * number (template status and quality updates) is the deployment's.
 */
export async function routeMeta(senders: WebhookSenders, request: WebhookRequest): Promise<WebhookRoute> {
  const json = parseJson(request.rawBody);
  const ids = metaPhoneNumberIds(json);
  const env = senders.env('meta');
  if (ids.length === 0) return env ? { kind: 'routed', parts: [{ sender: env, request }] } : { kind: 'not_configured' };
  const byId = new Map<string, WebhookSender>();
  for (const id of ids) {
    const found = await senders.find('meta', 'phone_number_id', id);
    // One number registered twice (by two tenants) goes to the one whose app secret signed it.
    const sender = found.length > 1 ? (found.find((s) => s.adapter.verifyWebhook(request)) ?? found[0]) : found[0];
    if (sender) byId.set(id, sender);
    else if (envClaims(env, 'phone_number_id', id, request)) byId.set(id, env);
    else return unknownOr(env, 'meta', `phone_number_id ${id}`);
  }
  const distinct = new Map([...byId.values()].map((s) => [s.id, s]));
  if (distinct.size === 1) return { kind: 'routed', parts: [{ sender: [...distinct.values()][0] as WebhookSender, request }] };
  // Several senders: each one's share of the changes, parsed for it alone.
  const bySender = new Map<string, { sender: WebhookSender; entries: unknown[]; object: unknown }>();
  for (const [id, part] of splitMetaBody(json, ids[0] as string)) {
    const sender = byId.get(id) as WebhookSender;
    const share = bySender.get(sender.id) ?? { sender, entries: [], object: (part as { object?: unknown }).object };
    share.entries.push(...((part as { entry?: unknown[] }).entry ?? []));
    bySender.set(sender.id, share);
  }
  return {
    kind: 'routed',
    parts: [...bySender.values()].map(({ sender, entries, object }) => ({
      sender,
      request: { ...request, rawBody: Buffer.from(JSON.stringify({ object, entry: entries })) },
    })),
  };
}

/**
 * Twilio: by `AccountSid`, and among the senders of one account by the number (`From` of a status
 * callback, `To` of an incoming message). A request without an AccountSid is the deployment's.
 */
export async function routeTwilio(senders: WebhookSenders, request: WebhookRequest): Promise<WebhookRoute> {
  const form = request.form ?? {};
  const sid = first(form.AccountSid);
  const env = senders.env('twilio');
  if (!sid) return env ? { kind: 'routed', parts: [{ sender: env, request }] } : { kind: 'not_configured' };
  const found = await senders.find('twilio', 'account_sid', sid);
  if (found.length > 0) {
    const sender = pick(found, 'from', [bareNumber(first(form.From)), bareNumber(first(form.To))]);
    return sender ? { kind: 'routed', parts: [{ sender, request }] } : { kind: 'unknown', provider: 'twilio', identifier: 'number' };
  }
  if (envClaims(env, 'account_sid', sid, request)) return { kind: 'routed', parts: [{ sender: env, request }] };
  return unknownOr(env, 'twilio', `AccountSid ${sid}`);
}

/**
 * MyOperator: by `company_id` (the envelope's, or its payload's), and among the senders of one
 * company by `phone_number_id` where the event names one. An event naming no company is the
 * deployment's.
 */
export async function routeMyOperator(senders: WebhookSenders, request: WebhookRequest): Promise<WebhookRoute> {
  const json = parseJson(request.rawBody) as
    | { company_id?: unknown; phone_number_id?: unknown; payload?: Record<string, unknown> }
    | undefined;
  const body = typeof json === 'object' && json !== null ? json : {};
  const payload = typeof body.payload === 'object' && body.payload !== null ? body.payload : {};
  const company = str(body.company_id) ?? str(payload.company_id);
  const env = senders.env('myoperator');
  if (!company) return env ? { kind: 'routed', parts: [{ sender: env, request }] } : { kind: 'not_configured' };
  const found = await senders.find('myoperator', 'company_id', company);
  if (found.length > 0) {
    const sender = pick(found, 'phone_number_id', [str(body.phone_number_id), str(payload.phone_number_id)]);
    return sender
      ? { kind: 'routed', parts: [{ sender, request }] }
      : { kind: 'unknown', provider: 'myoperator', identifier: 'phone_number_id' };
  }
  if (envClaims(env, 'company_id', company, request)) return { kind: 'routed', parts: [{ sender: env, request }] };
  return unknownOr(env, 'myoperator', `company_id ${company}`);
}
