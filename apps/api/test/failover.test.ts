import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptReminder, simRequestsTo } from './helpers.ts';
import { type Stack, startStack, testSecrets, uniquePhone, waitFor } from './stack.ts';

// Failover (issue 14, item 3): while a sender's breaker is open its messages go through its
// fallback — another provider here (a Meta number falls back to a Twilio account) — but only
// messages no provider may have taken already. The fallback's webhooks apply to the message.

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    env: {
      SENDER_KEYS: `k1:${randomBytes(32).toString('base64')}`,
      BREAKER_FAILURES: '3',
      BREAKER_COOLDOWN_MS: '6000',
      UNKNOWN_OUTCOME_WAIT_MS: '1500',
      PROVIDER_TIMEOUT_MS: '1000',
    },
  });
});
afterAll(() => stack?.close());

async function admin(method: 'POST' | 'GET', url: string, tenant: string, payload?: object) {
  const res = await stack.api.inject({
    method,
    url: `/api/v1/admin${url}`,
    headers: { authorization: `Bearer ${stack.token('admin', tenant)}` },
    ...(payload ? { payload } : {}),
  });
  expect(res.statusCode, res.body).toBeLessThan(300);
  return res.json();
}

/** A Meta number the simulator answers for, stored as `tenant`'s default sender falling back to `fallback`. */
async function metaWithFallback(tenant: string, phoneNumberId: string, fallback: string): Promise<string> {
  const token = `EAAG${randomBytes(8).toString('hex')}`;
  const appSecret = randomBytes(12).toString('hex');
  const sim = await fetch(`${stack.sim.url}/_sim/senders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ provider: 'meta', phone_number_id: phoneNumberId, access_token: token, app_secret: appSecret }),
  });
  expect(sim.status).toBe(201);
  const created = await admin('POST', '/senders', tenant, {
    provider: 'meta',
    label: `${tenant} Meta`,
    default: true,
    fallback,
    identifiers: { phone_number_id: phoneNumberId, waba_id: '102290129340398' },
    credentials: { access_token: token },
    webhook_secrets: { app_secret: appSecret },
  });
  return created.id;
}

async function twilioSender(tenant: string): Promise<string> {
  const created = await admin('POST', '/senders', tenant, {
    provider: 'twilio',
    label: `${tenant} Twilio`,
    identifiers: { account_sid: testSecrets.TWILIO_ACCOUNT_SID, from: testSecrets.TWILIO_FROM },
    credentials: { auth_token: testSecrets.TWILIO_AUTH_TOKEN },
  });
  return created.id;
}

const doc = async (id: string) => {
  const found = await stack.store.messages.get(id);
  if (!found) throw new Error(`no record of ${id}`);
  return found;
};

describe('failover to a sender\u2019s fallback', () => {
  it('a fallback must be a sender of the same tenant', async () => {
    const res = await stack.api.inject({
      method: 'POST',
      url: '/api/v1/admin/senders',
      headers: { authorization: `Bearer ${stack.token('admin', 'other')}` },
      payload: {
        provider: 'twilio',
        label: 'x',
        fallback: 'snd_01JH8ZQ6S9V3X4Y5Z6A7B8C9D0',
        identifiers: { account_sid: testSecrets.TWILIO_ACCOUNT_SID, from: testSecrets.TWILIO_FROM },
        credentials: { auth_token: testSecrets.TWILIO_AUTH_TOKEN },
      },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ issues: [{ path: 'fallback', message: expect.stringContaining('no sender') }] });
  });

  it('while the Meta number\u2019s breaker is open its messages go through Twilio, once each, and Twilio\u2019s webhooks follow them to read', async () => {
    const fallback = await twilioSender('acme');
    const meta = await metaWithFallback('acme', '240000000000001', fallback);
    const shown = await admin('GET', `/senders/${meta}`, 'acme');
    expect(shown).toMatchObject({ fallback, breaker: { state: 'closed' } });
    // The Meta number answers 500 three times: its breaker opens.
    await stack.faults({ script: Array.from({ length: 3 }, () => ({ code: 131000, sender: '240000000000001' })) });
    const first = [uniquePhone(), uniquePhone(), uniquePhone()];
    const ids: string[] = [];
    for (const phone of first) ids.push(await acceptReminder(stack, phone, 'acme'));
    await waitFor(async () => (await admin('GET', `/senders/${meta}`, 'acme')).breaker.state === 'open', {
      timeoutMs: 10_000,
      what: 'the Meta breaker to open',
    });
    // Accepted while it is open: straight to the fallback.
    const later = [uniquePhone(), uniquePhone()];
    for (const phone of later) ids.push(await acceptReminder(stack, phone, 'acme'));

    await waitFor(async () => (await stack.store.messages.count({ ids, status: ['delivered', 'read'] })) === ids.length, {
      timeoutMs: 20_000,
      what: "every message delivered, by the fallback's webhooks",
    });
    for (const [i, id] of ids.entries()) {
      const d = await doc(id);
      expect(d).toMatchObject({ sender: meta, sent_by: fallback, provider: 'twilio' });
      expect(d.provider_message_id).toMatch(/^SM/);
      expect(d.events.map((e) => e.status)).toContain('failover');
      // The first three used an attempt on Meta (500) before failing over; the later two none.
      expect(d.attempts).toBe(i < 3 ? 2 : 1);
      const requests = await simRequestsTo(stack, d.phone);
      expect(requests.filter((r) => r.outcome === 'accepted').map((r) => r.provider)).toEqual(['twilio']);
      expect(requests.filter((r) => r.provider === 'meta')).toHaveLength(i < 3 ? 1 : 0);
    }
    // The API shows it the same way.
    const detail = await stack.api.inject({
      method: 'GET',
      url: `/api/notifications/messages/${ids[0]}`,
      headers: { authorization: `Bearer ${stack.token('viewer', 'acme')}` },
    });
    expect(detail.json()).toMatchObject({ sender: meta, sent_by: fallback, provider: 'twilio' });
  });

  it('a message whose earlier attempt may have reached the provider never fails over: it waits for its own sender', async () => {
    const fallback = await twilioSender('bolt');
    const meta = await metaWithFallback('bolt', '240000000000002', fallback);
    const pnid = '240000000000002';
    // No webhooks at all in this test: the timed-out send is never proved.
    const maybe = uniquePhone();
    await stack.faults({
      timeout_ms: 3000,
      webhooks: { statuses: [] },
      script: [
        { timeout: true, to: maybe, sender: pnid },
        { code: 131000, sender: pnid },
        { code: 131000, sender: pnid },
      ],
    });
    const maybeId = await acceptReminder(stack, maybe, 'bolt');
    await waitFor(async () => (await stack.store.messages.get(maybeId))?.events.some((e) => e.status === 'unknown') === true, {
      timeoutMs: 10_000,
      what: 'the first attempt to end unknown',
    });
    // Two more failures open the breaker (the unknown outcome was the first of the run).
    const certain = [uniquePhone(), uniquePhone()];
    const certainIds: string[] = [];
    for (const phone of certain) certainIds.push(await acceptReminder(stack, phone, 'bolt'));
    await waitFor(async () => (await admin('GET', `/senders/${meta}`, 'bolt')).breaker.state === 'open', {
      timeoutMs: 10_000,
      what: 'the breaker to open',
    });

    await waitFor(async () => (await stack.store.messages.count({ ids: [maybeId, ...certainIds], status: 'sent' })) === 3, {
      timeoutMs: 20_000,
      what: 'all three sent',
    });
    // The two whose failures were certain went to Twilio…
    for (const id of certainIds) expect(await doc(id)).toMatchObject({ sent_by: fallback, provider: 'twilio' });
    // …the one that may be with Meta waited out the breaker and went to Meta again, never to Twilio.
    const waited = await doc(maybeId);
    expect(waited.provider).toBe('meta');
    expect(waited.sent_by).toBeUndefined();
    const statuses = waited.events.map((e) => e.status);
    expect(statuses).toEqual(expect.arrayContaining(['unknown', 'retrying', 'waiting', 'sent']));
    expect(waited.events.find((e) => e.status === 'waiting')?.detail).toContain('no failover');
    const requests = await simRequestsTo(stack, maybe);
    expect(requests.every((r) => r.provider === 'meta')).toBe(true);
    expect(requests.map((r) => r.outcome)).toEqual(['timeout', 'accepted']);
  });
});
