import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reminder, send, simFor } from './helpers.ts';
import { type Stack, startStack, testSecrets, uniquePhone, waitFor } from './stack.ts';

// Each message names its sender (issue 13, item 2): the one it asks for, else its tenant's
// default, else the deployment's (`env`). The sender is recorded and shown, history and
// statistics filter by it, and a tenant can only use its own. The deployment sends through Meta;
// the bakery's own number is a Twilio account, so a message through it must reach the simulator's
// Twilio side.

const senderKeys = `k1:${randomBytes(32).toString('base64')}`;
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { SENDER_KEYS: senderKeys } });
});
afterAll(() => stack?.close());

type Who = { role?: 'admin' | 'service' | 'viewer'; tenant?: string };
async function admin(method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object, who: Who = {}) {
  const res = await stack.api.inject({
    method,
    url: `/api/v1/admin${url}`,
    headers: { authorization: `Bearer ${stack.token(who.role ?? 'admin', who.tenant)}` },
    ...(payload ? { payload } : {}),
  });
  return { status: res.statusCode, body: res.json() };
}
async function get(url: string, who: Who) {
  const res = await stack.api.inject({
    method: 'GET',
    url,
    headers: { authorization: `Bearer ${stack.token(who.role ?? 'service', who.tenant)}` },
  });
  return { status: res.statusCode, body: res.json() };
}
async function sendAs(tenant: string, body: object) {
  const res = await stack.api.inject({
    method: 'POST',
    url: '/api/notifications/send-message',
    headers: { authorization: `Bearer ${stack.token('service', tenant)}` },
    payload: body,
  });
  return { status: res.statusCode, body: res.json() };
}

/** A Twilio sender on the simulator's account (its credentials are the test environment's). */
const twilioSender = (fields: object = {}) => ({
  provider: 'twilio',
  label: 'Bakery WhatsApp',
  identifiers: { account_sid: testSecrets.TWILIO_ACCOUNT_SID, from: testSecrets.TWILIO_FROM },
  credentials: { auth_token: testSecrets.TWILIO_AUTH_TOKEN },
  ...fields,
});

let bakery: string;
let florist: string;
let dairy: string;

describe('a message and its sender', () => {
  it('goes through its tenant\u2019s default sender when it names none, and says so in its answer, detail and history', async () => {
    const created = await admin('POST', '/senders', twilioSender({ default: true }), { tenant: 'bakery' });
    expect(created.status).toBe(201);
    bakery = created.body.id;
    const phone = uniquePhone();
    const res = await sendAs('bakery', reminder(phone));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'sent', sender: bakery, provider: 'twilio' });
    // It reached the simulator's Twilio side, not Meta's (the deployment's provider).
    const received = (await simFor(stack, phone)).messages as { provider?: string }[];
    expect(received.map((m) => m.provider)).toEqual(['twilio']);
    const detail = await get(`/api/notifications/messages/${res.body.id}`, { tenant: 'bakery' });
    expect(detail.body).toMatchObject({ sender: bakery, provider: 'twilio' });
    const history = await get(`/api/notifications/history?sender=${bakery}`, { tenant: 'bakery' });
    expect(history.body.items.map((m: { id: string }) => m.id)).toContain(res.body.id);
  });

  it('goes through the deployment\u2019s sender for a tenant without one, or when it names `env`', async () => {
    const none = await sendAs('nobody', reminder(uniquePhone()));
    expect(none.body).toMatchObject({ sender: 'env', provider: 'meta', status: 'sent' });
    const named = await sendAs('bakery', reminder(uniquePhone(), { sender: 'env' }));
    expect(named.body).toMatchObject({ sender: 'env', provider: 'meta', status: 'sent' });
  });

  it('refuses another tenant\u2019s sender (403), an unknown one (400 naming `sender`) and a disabled one (409)', async () => {
    const other = await admin('POST', '/senders', twilioSender({ label: 'Florist' }), { tenant: 'florist' });
    florist = other.body.id;
    const crossing = await sendAs('bakery', reminder(uniquePhone(), { sender: florist }));
    expect(crossing.status).toBe(403);
    expect(crossing.body.message).toContain('another tenant');

    const unknown = await sendAs('bakery', reminder(uniquePhone(), { sender: 'snd_nope' }));
    expect(unknown.status).toBe(400);
    expect(unknown.body.issues).toEqual([expect.objectContaining({ path: 'sender' })]);

    expect((await admin('POST', `/senders/${florist}/disable`, undefined, { tenant: 'florist' })).status).toBe(200);
    const disabled = await sendAs('florist', reminder(uniquePhone(), { sender: florist }));
    expect(disabled.status).toBe(409);
    // Nothing was queued for any of them.
    expect(await stack.store.messages.count({ tenant: 'florist' })).toBe(0);
  });

  it('goes end to end through a tenant\u2019s own Meta number: its credentials send, its signed webhooks bring it to read', async () => {
    const number = '100000000000777';
    const access_token = `EAAG${randomBytes(12).toString('hex')}`;
    const app_secret = `appsecret-${randomBytes(12).toString('hex')}`;
    const sim = await fetch(`${stack.sim.url}/_sim/senders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ provider: 'meta', phone_number_id: number, access_token, app_secret }),
    });
    expect(sim.status, await sim.clone().text()).toBe(201);
    const created = await admin(
      'POST',
      '/senders',
      {
        provider: 'meta',
        label: 'Dairy',
        default: true,
        identifiers: { phone_number_id: number, waba_id: '100000000000778' },
        credentials: { access_token },
        webhook_secrets: { app_secret },
      },
      { tenant: 'dairy' },
    );
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    dairy = created.body.id;
    const res = await sendAs('dairy', reminder(uniquePhone()));
    expect(res.body).toMatchObject({ status: 'sent', sender: created.body.id, provider: 'meta' });
    await waitFor(async () => (await get(`/api/notifications/messages/${res.body.id}`, { tenant: 'dairy' })).body.status === 'read', {
      what: 'the dairy number\u2019s own webhooks to bring the message to read',
    });
  });

  it('counts statistics per sender', async () => {
    const phone = uniquePhone();
    await send(stack, { ...reminder(phone), sender: 'env' });
    await stack.settled();
    const ofBakery = await get(`/api/notifications/statistics?sender=${bakery}&tenant=bakery`, { role: 'admin' });
    const ofEnv = await get('/api/notifications/statistics?sender=env', { role: 'admin' });
    const all = await get('/api/notifications/statistics', { role: 'admin' });
    expect(ofBakery.status).toBe(200);
    expect(ofBakery.body.total).toBe(1);
    const ofDairy = await get(`/api/notifications/statistics?sender=${dairy}`, { role: 'admin' });
    expect(ofDairy.body.total).toBe(1);
    // Every message is some sender's: the deployment's are the rest.
    expect(ofEnv.body.total).toBe(all.body.total - 2);
  });
});
