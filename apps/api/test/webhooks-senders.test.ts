import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getMessage, metaSign, reminder, send } from './helpers.ts';
import { metric, parseMetrics, type Stack, startStack, testSecrets, uniquePhone, waitFor } from './stack.ts';

// Webhooks routed to their sender (issue 13, item 4): two tenants with a Meta number each and a
// Twilio account, each one's webhooks verified with its own secret, unknown numbers refused and
// counted, inbound messages attributed to the number that received them, and status events that
// never cross from one sender's webhooks onto another sender's message. The deployment's sender
// (the environment's) keeps working as before (webhooks-meta, stop-first, replies, providers).

const senderKeys = `k1:${randomBytes(32).toString('base64')}`;
const secret = (name: string) => `${name}-${randomBytes(10).toString('hex')}`;

const bakeryMeta = { phone_number_id: '210000000000001', app_secret: secret('bakery-app') };
const floristMeta = { phone_number_id: '220000000000002', app_secret: secret('florist-app') };
const bakeryTwilio = { account_sid: `AC${randomBytes(16).toString('hex')}`, auth_token: secret('bakery-twilio'), from: '+14155550101' };

let stack: Stack;
const ids: Record<'bakery' | 'florist' | 'twilio', string> = { bakery: '', florist: '', twilio: '' };

async function admin(method: 'POST' | 'PATCH', url: string, payload: object, tenant: string) {
  const res = await stack.api.inject({
    method,
    url: `/api/v1/admin${url}`,
    headers: { authorization: `Bearer ${stack.token('admin', tenant)}` },
    payload,
  });
  expect(res.statusCode, res.body).toBeLessThan(300);
  return res.json();
}

const metaSender = (m: { phone_number_id: string; app_secret: string }, label: string) => ({
  provider: 'meta',
  label,
  identifiers: { phone_number_id: m.phone_number_id, waba_id: '102290129340398' },
  credentials: { access_token: secret('EAAGtoken') },
  webhook_secrets: { app_secret: m.app_secret },
});

beforeAll(async () => {
  // The simulator's own status webhooks would race the ones these tests post: far in the future.
  stack = await startStack({ env: { SENDER_KEYS: senderKeys }, webhookDelaysMs: { sent: 600_000, delivered: 600_000, read: 600_000 } });
  ids.bakery = (await admin('POST', '/senders', metaSender(bakeryMeta, 'Bakery'), 'bakery')).id;
  ids.florist = (await admin('POST', '/senders', metaSender(floristMeta, 'Florist'), 'florist')).id;
  ids.twilio = (
    await admin(
      'POST',
      '/senders',
      {
        provider: 'twilio',
        label: 'Bakery Twilio',
        identifiers: { account_sid: bakeryTwilio.account_sid, from: bakeryTwilio.from },
        credentials: { auth_token: bakeryTwilio.auth_token },
      },
      'bakery',
    )
  ).id;
}, 60_000);
afterAll(() => stack?.close());

function metaBody(phoneNumberId: string, value: Record<string, unknown>, more: { phoneNumberId: string; value: object }[] = []) {
  const change = (id: string, v: object) => ({
    field: 'messages',
    value: { messaging_product: 'whatsapp', metadata: { display_phone_number: '15550000001', phone_number_id: id }, ...v },
  });
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{ id: '102290129340398', changes: [change(phoneNumberId, value), ...more.map((m) => change(m.phoneNumberId, m.value))] }],
  });
}

const stop = (phone: string, text = 'STOP') => ({
  messages: [
    {
      from: phone.slice(1),
      id: `wamid.${randomUUID()}`,
      timestamp: String(Math.floor(Date.now() / 1000)),
      type: 'text',
      text: { body: text },
    },
  ],
});
const delivered = (wamid: string) => ({
  statuses: [{ id: wamid, status: 'delivered', timestamp: String(Math.floor(Date.now() / 1000)) }],
});

async function postMeta(raw: string, appSecret: string) {
  const res = await stack.api.inject({
    method: 'POST',
    url: '/api/v1/whatsapp/webhook',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': metaSign(raw, appSecret) },
    payload: raw,
  });
  return { status: res.statusCode, body: res.json() };
}

async function outcomes(provider: string, outcome: string) {
  const res = await stack.api.inject({ method: 'GET', url: '/metrics' });
  return metric(parseMetrics(res.body), 'herald_webhook_requests_total', { provider, outcome });
}

const settings = (phone: string) => stack.store.settings.get(phone);

describe('Meta webhooks go to the sender whose number they name', () => {
  it("a tenant's number takes a webhook signed with its own app secret, and a STOP through it is attributed to it", async () => {
    const phone = uniquePhone();
    expect((await postMeta(metaBody(bakeryMeta.phone_number_id, stop(phone)), bakeryMeta.app_secret)).status).toBe(200);
    await waitFor(async () => (await settings(phone))?.opted_out === true, { what: 'the opt-out' });
    expect((await settings(phone))?.source).toBe(`meta:inbound:${ids.bakery}`);
  });

  it("a webhook signed with tenant A's app secret naming tenant B's number is refused (401), and changes nothing", async () => {
    const phone = uniquePhone();
    const before = await outcomes('meta', 'bad_signature');
    const res = await postMeta(metaBody(floristMeta.phone_number_id, stop(phone)), bakeryMeta.app_secret);
    expect(res.status).toBe(401);
    expect(await outcomes('meta', 'bad_signature')).toBe(before + 1);
    // The deployment's secret does not speak for a tenant's number either.
    expect((await postMeta(metaBody(floristMeta.phone_number_id, stop(phone)), testSecrets.META_APP_SECRET)).status).toBe(401);
    await new Promise((r) => setTimeout(r, 500));
    expect(await settings(phone)).toBeNull();
  });

  it('the senders API says when each number\u2019s webhooks last arrived; a refused webhook does not count', async () => {
    const lastWebhook = async (id: string) => {
      const res = await stack.api.inject({
        method: 'GET',
        url: `/api/v1/admin/senders/${id}`,
        headers: { authorization: `Bearer ${stack.token('admin')}` },
      });
      return res.json().last_webhook_at as string | null;
    };
    const floristBefore = await lastWebhook(ids.florist);
    const started = Date.now() - 1000;
    expect((await postMeta(metaBody(bakeryMeta.phone_number_id, stop(uniquePhone())), bakeryMeta.app_secret)).status).toBe(200);
    await waitFor(async () => Date.parse((await lastWebhook(ids.bakery)) ?? '0') >= started, { what: "the bakery's last webhook" });
    expect((await postMeta(metaBody(floristMeta.phone_number_id, stop(uniquePhone())), bakeryMeta.app_secret)).status).toBe(401);
    await new Promise((r) => setTimeout(r, 300));
    expect(await lastWebhook(ids.florist)).toBe(floristBefore);
  });

  it('a number no sender has is refused with 404 and counted as unknown_sender', async () => {
    const before = await outcomes('meta', 'unknown_sender');
    const res = await postMeta(metaBody('299999999999999', stop(uniquePhone())), secret('someone-else'));
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ error: 'not_found', message: expect.stringContaining('phone_number_id 299999999999999') });
    expect(await outcomes('meta', 'unknown_sender')).toBe(before + 1);
  });

  it("an inbound STOP from the simulator through tenant B's number is attributed to B", async () => {
    await fetch(`${stack.sim.url}/_sim/senders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        provider: 'meta',
        phone_number_id: floristMeta.phone_number_id,
        access_token: 'x',
        app_secret: floristMeta.app_secret,
      }),
    });
    const phone = uniquePhone();
    const res = await fetch(`${stack.sim.url}/_sim/inbound`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ from: phone, text: 'STOP', sender: floristMeta.phone_number_id }),
    });
    expect(((await res.json()) as { herald: { status: number } }).herald.status).toBe(200);
    await waitFor(async () => (await settings(phone))?.opted_out === true, { what: 'the opt-out' });
    expect((await settings(phone))?.source).toBe(`meta:inbound:${ids.florist}`);
  });

  it("the deployment's number is unchanged: its own secret, attributed as before", async () => {
    const phone = uniquePhone();
    expect((await postMeta(metaBody(testSecrets.META_PHONE_NUMBER_ID, stop(phone)), testSecrets.META_APP_SECRET)).status).toBe(200);
    await waitFor(async () => (await settings(phone))?.opted_out === true, { what: 'the opt-out' });
    expect((await settings(phone))?.source).toBe('meta:inbound');
  });

  it('a body carrying two numbers of one app is split: each number\u2019s messages go to its own sender', async () => {
    // A second bakery number on the same Meta app (same app secret).
    const second = { phone_number_id: '210000000000003', app_secret: bakeryMeta.app_secret };
    const secondId = (await admin('POST', '/senders', metaSender(second, 'Bakery second'), 'bakery')).id;
    const [a, b] = [uniquePhone(), uniquePhone()];
    const raw = metaBody(bakeryMeta.phone_number_id, stop(a), [{ phoneNumberId: second.phone_number_id, value: stop(b) }]);
    expect((await postMeta(raw, bakeryMeta.app_secret)).status).toBe(200);
    await waitFor(async () => (await settings(a))?.opted_out === true && (await settings(b))?.opted_out === true, {
      what: 'both opt-outs',
    });
    expect((await settings(a))?.source).toBe(`meta:inbound:${ids.bakery}`);
    expect((await settings(b))?.source).toBe(`meta:inbound:${secondId}`);
    // Mixed with another app's number, the same body verifies for only one of them: refused whole.
    const mixed = metaBody(bakeryMeta.phone_number_id, stop(uniquePhone()), [
      { phoneNumberId: floristMeta.phone_number_id, value: stop(uniquePhone()) },
    ]);
    expect((await postMeta(mixed, bakeryMeta.app_secret)).status).toBe(401);
  });

  it('a changed app secret takes effect at once: the old one is refused, the new one taken', async () => {
    const fresh = secret('bakery-app-new');
    await admin('PATCH', `/senders/${ids.bakery}`, { webhook_secrets: { app_secret: fresh } }, 'bakery');
    const raw = metaBody(bakeryMeta.phone_number_id, stop(uniquePhone(), 'hello'));
    expect((await postMeta(raw, bakeryMeta.app_secret)).status).toBe(401);
    expect((await postMeta(raw, fresh)).status).toBe(200);
    bakeryMeta.app_secret = fresh;
  });
});

describe('status events never cross senders', () => {
  it("a status for the deployment's message arriving through a tenant's number does not touch it; through the deployment's it does", async () => {
    const phone = uniquePhone();
    const accepted = await send(stack, reminder(phone));
    expect(accepted.status).toBeLessThan(300);
    const sent = await waitFor(
      async () => {
        const m = (await getMessage(stack, accepted.body.id)).body;
        return m.status === 'sent' ? m : undefined;
      },
      { what: 'the message sent' },
    );
    const wamid = sent.provider_message_id as string;
    expect((await postMeta(metaBody(bakeryMeta.phone_number_id, delivered(wamid)), bakeryMeta.app_secret)).status).toBe(200);
    // Retried for STATUS_ORPHAN_AFTER_MS, then kept as an orphan: never applied to another sender's message.
    await waitFor(async () => (await stack.store.orphans.list(1000)).some((o) => o.provider_message_id === wamid), {
      what: 'the crossing event kept as an orphan',
      timeoutMs: 20_000,
    });
    expect((await getMessage(stack, accepted.body.id)).body.status).toBe('sent');

    const raw = metaBody(testSecrets.META_PHONE_NUMBER_ID, delivered(wamid));
    expect((await postMeta(raw, testSecrets.META_APP_SECRET)).status).toBe(200);
    await waitFor(async () => (await getMessage(stack, accepted.body.id)).body.status === 'delivered', { what: 'delivered' });
  }, 40_000);
});

describe('Twilio webhooks go to the sender of their AccountSid and number', () => {
  const url = () => `${stack.config.PUBLIC_BASE_URL.replace(/\/+$/, '')}/api/v1/twilio/status`;
  const sign = (token: string, params: Record<string, string>) => {
    let data = url();
    for (const name of Object.keys(params).sort()) data += name + params[name];
    return createHmac('sha1', token).update(data).digest('base64');
  };
  async function postTwilio(params: Record<string, string>, token: string) {
    const res = await stack.api.inject({
      method: 'POST',
      url: '/api/v1/twilio/status',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': sign(token, params) },
      payload: new URLSearchParams(params).toString(),
    });
    return res.statusCode;
  }
  const inbound = (sid: string, phone: string) => ({
    AccountSid: sid,
    MessageSid: `SM${randomBytes(16).toString('hex')}`,
    SmsStatus: 'received',
    Body: 'STOP',
    From: `whatsapp:${phone}`,
    To: `whatsapp:${bakeryTwilio.from}`,
  });

  it("is verified with that sender's auth token (the deployment's is refused) and attributed to it", async () => {
    const phone = uniquePhone();
    expect(await postTwilio(inbound(bakeryTwilio.account_sid, phone), testSecrets.TWILIO_AUTH_TOKEN)).toBe(401);
    expect(await postTwilio(inbound(bakeryTwilio.account_sid, phone), bakeryTwilio.auth_token)).toBe(200);
    await waitFor(async () => (await settings(phone))?.opted_out === true, { what: 'the opt-out' });
    expect((await settings(phone))?.source).toBe(`twilio:inbound:${ids.twilio}`);
  });

  it('an account no sender has is refused with 404 and counted', async () => {
    const before = await outcomes('twilio', 'unknown_sender');
    const other = `AC${randomBytes(16).toString('hex')}`;
    expect(await postTwilio(inbound(other, uniquePhone()), secret('other-token'))).toBe(404);
    expect(await outcomes('twilio', 'unknown_sender')).toBe(before + 1);
  });
});

describe('MyOperator webhooks go to the sender of their company', () => {
  const company = { company_id: `florist-${randomBytes(4).toString('hex')}`, webhook_secret: secret('florist-myop') };
  const event = (companyId: string, phone: string) =>
    JSON.stringify({
      event_id: randomUUID(),
      company_id: companyId,
      event_type: 'whatsapp.message.received',
      direction: 'inbound',
      timestamp: Math.floor(Date.now() / 1000),
      customer_identifier: phone.slice(1),
      payload: { from: phone.slice(1), text: 'STOP' },
    });
  async function postMyOperator(raw: string, headerSecret: string) {
    const res = await stack.api.inject({
      method: 'POST',
      url: '/api/v1/myoperator/webhook',
      headers: { 'content-type': 'application/json', [stack.config.MYOPERATOR_WEBHOOK_HEADER]: headerSecret },
      payload: raw,
    });
    return res.statusCode;
  }

  it("is checked against that sender's webhook secret and attributed to it; an unknown company is a 404", async () => {
    const created = await admin(
      'POST',
      '/senders',
      {
        provider: 'myoperator',
        label: 'Florist MyOperator',
        identifiers: { company_id: company.company_id, phone_number_id: 'florist-phone-1' },
        credentials: { api_key: secret('myop-key') },
        webhook_secrets: { webhook_secret: company.webhook_secret },
      },
      'florist',
    );
    const phone = uniquePhone();
    expect(await postMyOperator(event(company.company_id, phone), testSecrets.MYOPERATOR_WEBHOOK_SECRET)).toBe(401);
    expect(await postMyOperator(event(company.company_id, phone), company.webhook_secret)).toBe(200);
    await waitFor(async () => (await settings(phone))?.opted_out === true, { what: 'the opt-out' });
    expect((await settings(phone))?.source).toBe(`myoperator:inbound:${created.id}`);
    const before = await outcomes('myoperator', 'unknown_sender');
    expect(await postMyOperator(event('nobody-co', uniquePhone()), secret('nobody'))).toBe(404);
    expect(await outcomes('myoperator', 'unknown_sender')).toBe(before + 1);
  });
});
