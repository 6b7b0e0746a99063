import { createHmac } from 'node:crypto';
import { channels, createRedis, readAnnouncement } from '@herald/shared';
import { type Stack, testSecrets, waitFor } from '@herald/test-utils';

/** POST /api/notifications/send-message as `role`. */
export async function send(
  stack: Stack,
  body: Record<string, unknown>,
  opts: { role?: 'admin' | 'service' | 'viewer'; tenant?: string; headers?: Record<string, string> } = {},
) {
  const res = await stack.api.inject({
    method: 'POST',
    url: '/api/notifications/send-message',
    headers: { authorization: `Bearer ${stack.token(opts.role ?? 'service', opts.tenant)}`, ...opts.headers },
    payload: body,
  });
  return { status: res.statusCode, body: res.json() };
}

export async function getMessage(stack: Stack, id: string, opts: { role?: 'admin' | 'service' | 'viewer'; tenant?: string } = {}) {
  const res = await stack.api.inject({
    method: 'GET',
    url: `/api/notifications/messages/${id}`,
    headers: { authorization: `Bearer ${stack.token(opts.role ?? 'viewer', opts.tenant)}` },
  });
  return { status: res.statusCode, body: res.json() };
}

export interface SimRecord {
  messages: { id: string; to: string; text: string | null }[];
  requests: { to: string; outcome: string; http_status: number }[];
}

/** One send request as the simulator logged it (GET /_sim/messages). */
export interface SimRequest {
  provider: string;
  to: string | null;
  /** accepted, timeout (accepted, answered too late), 429, error:<code>, … */
  outcome: string;
  message_id: string | null;
  /** When the simulator answered it. */
  at: string;
}

/** Every send request the simulator logged for one recipient, in order, whatever the provider. */
export async function simRequestsTo(stack: Stack, phone: string): Promise<SimRequest[]> {
  const digits = (s: string | null) => (s ?? '').replace(/\D/g, '');
  const all = ((await (await fetch(`${stack.sim.url}/_sim/messages`)).json()) as { requests: SimRequest[] }).requests;
  return all.filter((r) => digits(r.to) === digits(phone));
}

/** What the simulator received for one recipient. */
export async function simFor(stack: Stack, phone: string): Promise<SimRecord> {
  const res = await fetch(`${stack.sim.url}/_sim/messages?to=${encodeURIComponent(phone)}`);
  return (await res.json()) as SimRecord;
}

export const reminder = (phone: string, extra: Record<string, unknown> = {}) => ({
  phone,
  message_type: 'delivery_reminder',
  context: { customer_name: 'Asha', delivery_date: '2026-02-01' },
  ...extra,
});

/**
 * send() of a body that carries an idempotency_key, retried with it while the API answers 503: what an upstream
 * service does when the database is briefly away (volume tests on a loaded machine see this).
 */
export async function sendSurely(stack: Stack, body: Record<string, unknown>) {
  for (let i = 0; ; i++) {
    const res = await send(stack, body);
    if (res.status !== 503 || i >= 10) return res;
    await new Promise((r) => setTimeout(r, 200 * (i + 1)));
  }
}

/** A Meta webhook body as Meta posts it (one entry, one change), `value` merged into the change. */
export function metaWebhook(value: Record<string, unknown>): string {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '100000000000001',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550000001', phone_number_id: testSecrets.META_PHONE_NUMBER_ID },
              ...value,
            },
          },
        ],
      },
    ],
  });
}

/** X-Hub-Signature-256 of a raw body with the stack's Meta app secret. */
export const metaSign = (raw: string, secret: string = testSecrets.META_APP_SECRET) =>
  `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;

/** POSTs a signed Meta webhook to the stack's API; resolves with the HTTP status. */
export async function postMetaWebhook(stack: Stack, raw: string): Promise<number> {
  const res = await fetch(`${stack.apiUrl}/api/v1/whatsapp/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': metaSign(raw) },
    body: raw,
  });
  await res.body?.cancel();
  return res.status;
}

/** Accepts a reminder to `phone` (immediate: false) as `tenant`'s service; its id. Throws unless 202. */
export async function acceptReminder(stack: Stack, phone: string, tenant?: string): Promise<string> {
  const res = await send(stack, reminder(phone, { immediate: false }), tenant ? { tenant } : {});
  if (res.status !== 202) throw new Error(`expected 202, got ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body.id;
}

/**
 * Runs `post` (an inbound STOP or START) and waits until the recipient's opt-out is `optedOut` in
 * the store and announced. The API answers from its mirror, which takes a change as its
 * announcement arrives, a moment after the write the store shows (docs/api.md, "The opt-out
 * mirror"); the API's own subscriber receives the announcement this one waits for.
 */
export async function optOutApplied(stack: Stack, phone: string, optedOut: boolean, post: () => Promise<unknown>): Promise<void> {
  const subscriber = createRedis(stack.config);
  try {
    const announced = new Promise<void>((resolve) => {
      subscriber.on('message', (_channel: string, message: string) => {
        const { phone: about, prefs } = readAnnouncement(message);
        if (about === phone && prefs !== undefined && (prefs?.opted_out === true) === optedOut) resolve();
      });
    });
    await subscriber.subscribe(channels(stack.config.QUEUE_PREFIX).preferences);
    await post();
    await waitFor(async () => ((await stack.store.settings.get(phone))?.opted_out === true) === optedOut, {
      what: `opted_out ${optedOut} recorded`,
    });
    await Promise.race([
      announced,
      new Promise((_, reject) => setTimeout(() => reject(new Error(`opted_out ${optedOut} was never announced`)), 5000)),
    ]);
  } finally {
    subscriber.disconnect();
  }
}
