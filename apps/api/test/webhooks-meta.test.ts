import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getMessage, metaWebhook, reminder, send } from './helpers.ts';
import { type Stack, startStack, testSecrets, uniquePhone, waitFor } from './stack.ts';

let stack: Stack;
beforeAll(async () => {
  // Webhooks far in the future: these tests post their own.
  stack = await startStack({ webhookDelaysMs: { sent: 600_000, delivered: 600_000, read: 600_000 } });
});
afterAll(() => stack?.close());

const sign = (raw: string, secret: string = testSecrets.META_APP_SECRET) =>
  `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;

function statusBody(wamid: string, status: string, timestamp: number, extra: Record<string, unknown> = {}) {
  return metaWebhook({ statuses: [{ id: wamid, status, timestamp: String(timestamp), recipient_id: '919876543210', ...extra }] });
}

async function post(raw: string, signature: string | undefined) {
  const res = await fetch(`${stack.apiUrl}/api/v1/whatsapp/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(signature ? { 'x-hub-signature-256': signature } : {}) },
    body: raw,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function sentMessage() {
  const res = await send(stack, reminder(uniquePhone()));
  expect(res.body.status).toBe('sent');
  return res.body as { id: string; provider_message_id: string };
}

const detail = async (id: string) => (await getMessage(stack, id)).body;
const now = () => Math.floor(Date.now() / 1000);

describe('Meta webhook', () => {
  it('answers the verification handshake only with the right token', async () => {
    const ok = await fetch(
      `${stack.apiUrl}/api/v1/whatsapp/webhook?hub.mode=subscribe&hub.verify_token=${testSecrets.META_VERIFY_TOKEN}&hub.challenge=1158201444`,
    );
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('1158201444');
    const bad = await fetch(`${stack.apiUrl}/api/v1/whatsapp/webhook?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1`);
    expect(bad.status).toBe(403);
  });

  it('a bad or missing signature is 401 and changes nothing', async () => {
    const msg = await sentMessage();
    const raw = statusBody(msg.provider_message_id, 'delivered', now());
    expect((await post(raw, sign(raw, 'not-the-secret'))).status).toBe(401);
    expect((await post(raw, undefined)).status).toBe(401);
    // Signed over other bytes (the body re-serialised): still refused.
    expect((await post(raw, sign(JSON.stringify(JSON.parse(raw), null, 1)))).status).toBe(401);
    await new Promise((r) => setTimeout(r, 300));
    const d = await detail(msg.id);
    expect(d.status).toBe('sent');
    expect(d.events.filter((e: { source: string }) => e.source === 'webhook')).toHaveLength(0);
  });

  it('applies a signed status, and a replay of the same request changes nothing', async () => {
    const msg = await sentMessage();
    const raw = statusBody(msg.provider_message_id, 'delivered', now());
    expect((await post(raw, sign(raw))).status).toBe(200);
    await waitFor(async () => (await detail(msg.id)).status === 'delivered', { what: 'delivered' });
    const before = await detail(msg.id);
    expect((await post(raw, sign(raw))).status).toBe(200);
    await new Promise((r) => setTimeout(r, 500));
    const after = await detail(msg.id);
    expect(after.events).toEqual(before.events);
    expect(after.delivered_at).toBe(before.delivered_at);
  });

  it('the same event in a differently shaped request is applied once', async () => {
    const msg = await sentMessage();
    const ts = now();
    const a = statusBody(msg.provider_message_id, 'delivered', ts);
    const b = statusBody(msg.provider_message_id, 'delivered', ts, { conversation: { id: 'c1' } });
    await post(a, sign(a));
    await post(b, sign(b));
    await waitFor(async () => (await detail(msg.id)).status === 'delivered');
    await new Promise((r) => setTimeout(r, 500));
    const events = (await detail(msg.id)).events.filter((e: { source: string }) => e.source === 'webhook');
    expect(events).toHaveLength(1);
  });

  it('read arriving before delivered ends read, with delivered_at set, and the late delivered is only an event', async () => {
    const msg = await sentMessage();
    const ts = now();
    const read = statusBody(msg.provider_message_id, 'read', ts + 2);
    await post(read, sign(read));
    await waitFor(async () => (await detail(msg.id)).status === 'read', { what: 'read' });
    const delivered = statusBody(msg.provider_message_id, 'delivered', ts + 1);
    await post(delivered, sign(delivered));
    await waitFor(async () => (await detail(msg.id)).events.length >= 4, { what: 'late event' });
    const d = await detail(msg.id);
    expect(d.status).toBe('read');
    expect(d.delivered_at).toBe(new Date((ts + 2) * 1000).toISOString());
    expect(d.events.map((e: { status: string }) => e.status)).toEqual(['queued', 'sent', 'read', 'delivered']);
  });

  it('delivered and read posted at the same moment, for many messages, all end read with both events', async () => {
    const messages = await Promise.all(Array.from({ length: 12 }, () => sentMessage()));
    const ts = now();
    await Promise.all(
      messages.flatMap((m) => {
        const delivered = statusBody(m.provider_message_id, 'delivered', ts);
        const read = statusBody(m.provider_message_id, 'read', ts);
        return [post(delivered, sign(delivered)), post(read, sign(read))];
      }),
    );
    for (const m of messages) {
      await waitFor(async () => (await detail(m.id)).events.length >= 4, { what: `both events of ${m.id}` });
      const d = await detail(m.id);
      expect(d.status).toBe('read');
      expect(d.events.map((e: { status: string }) => e.status).sort()).toEqual(['delivered', 'queued', 'read', 'sent']);
    }
  });

  it('failed after sent sets failed with the reason; failed after delivered is only an event', async () => {
    const a = await sentMessage();
    const failed = statusBody(a.provider_message_id, 'failed', now(), {
      errors: [{ code: 131026, title: 'Message undeliverable', message: 'Message undeliverable' }],
    });
    await post(failed, sign(failed));
    await waitFor(async () => (await detail(a.id)).status === 'failed', { what: 'failed' });
    expect((await detail(a.id)).error).toMatchObject({ code: '131026' });

    const b = await sentMessage();
    const delivered = statusBody(b.provider_message_id, 'delivered', now());
    await post(delivered, sign(delivered));
    await waitFor(async () => (await detail(b.id)).status === 'delivered');
    const lateFail = statusBody(b.provider_message_id, 'failed', now() + 1, { errors: [{ code: 131026, title: 'x' }] });
    await post(lateFail, sign(lateFail));
    await waitFor(async () => (await detail(b.id)).events.some((e: { status: string }) => e.status === 'failed'));
    expect((await detail(b.id)).status).toBe('delivered');
  });

  it('an event for an unknown provider id is retried, then kept as an orphan', async () => {
    const raw = statusBody('wamid.UNKNOWN-ORPHAN', 'delivered', now());
    expect((await post(raw, sign(raw))).status).toBe(200);
    // STATUS_ORPHAN_AFTER_MS is 2 s in tests.
    const orphan = await waitFor(async () => (await stack.store.orphans.list(1))[0], { timeoutMs: 20_000, what: 'orphan' });
    expect(orphan.event).toMatchObject({ provider_message_id: 'wamid.UNKNOWN-ORPHAN', status: 'delivered' });
  });

  it('a signed body that is not a Meta webhook is a 400', async () => {
    const raw = JSON.stringify({ hello: 'world' });
    const res = await post(raw, sign(raw));
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('bad_request');
  });
});
