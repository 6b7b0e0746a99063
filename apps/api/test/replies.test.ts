import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CallbackPayload, verifyCallbackSignature } from '@herald/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getMessage, metaWebhook, postMetaWebhook, reminder, send } from './helpers.ts';
import { type Stack, startStack, testSecrets, uniquePhone, waitFor } from './stack.ts';

// Replies reach upstream (issue 12, item 4): a button or list tap that answers one of Herald's
// messages goes on that message's timeline and to its callback_url, signed, as `event: reply`.

/** A local upstream service: keeps every callback it receives, with whether its signature holds. */
const received: { body: CallbackPayload; signed: boolean }[] = [];
let receiver: Server;
let callbackUrl: string;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => {
      raw += chunk.toString();
    });
    req.on('end', () => {
      const signed = verifyCallbackSignature(testSecrets.CALLBACK_SECRET, raw, req.headers['x-herald-signature'] as string);
      received.push({ body: JSON.parse(raw) as CallbackPayload, signed });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  callbackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/herald`;
});
afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

const callbacksFor = (id: string) => received.filter((c) => c.body.id === id);

/** POST /_sim/inbound: the simulator posts the provider's signed webhook to Herald. */
async function simInbound(stack: Stack, body: Record<string, unknown>) {
  const res = await fetch(`${stack.sim.url}/_sim/inbound`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as { herald: { status: number; body: unknown }; field?: string } };
}

/** Sends a message with a callback_url and waits until it is read (its last status callback). */
async function sentAndRead(stack: Stack, phone = uniquePhone()) {
  const res = await send(stack, reminder(phone, { callback_url: callbackUrl }));
  expect(res.status).toBe(200);
  const { id, provider_message_id: providerId } = res.body as { id: string; provider_message_id: string };
  await waitFor(async () => callbacksFor(id).some((c) => c.body.status === 'read'), { what: 'the read callback' });
  return { id, providerId, phone };
}

async function replyCallback(id: string) {
  return (await waitFor(async () => callbacksFor(id).find((c) => c.body.event === 'reply'), { what: 'the reply callback' })).body;
}

describe('replies through Meta', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ webhookDelaysMs: { sent: 10, delivered: 20, read: 30 } });
  });
  afterAll(() => stack?.close());

  it('a quick-reply press reaches the upstream callback, signed, and the message’s timeline', async () => {
    const { id, providerId } = await sentAndRead(stack);
    const tap = await simInbound(stack, { reply_to: providerId, button: { payload: 'CONFIRM_DELIVERY', text: 'Yes' } });
    expect(tap.body.herald.status).toBe(200);

    const callback = await replyCallback(id);
    expect(callback).toEqual({
      event: 'reply',
      id,
      status: 'read',
      at: expect.any(String),
      sequence: expect.any(Number),
      reference_id: null,
      provider_message_id: providerId,
      error: null,
      reply: { kind: 'quick_reply', payload: 'CONFIRM_DELIVERY', title: 'Yes' },
    });
    expect(callbacksFor(id).every((c) => c.signed)).toBe(true);
    // Later than every status callback: a receiver that keeps the highest sequence keeps `read`.
    const statusSequences = callbacksFor(id)
      .filter((c) => c.body.event === 'status')
      .map((c) => c.body.sequence);
    expect(callback.sequence).toBeGreaterThan(Math.max(...statusSequences));

    const detail = await getMessage(stack, id);
    expect(detail.body.status).toBe('read');
    expect(detail.body.events.at(-1)).toEqual({
      status: 'reply',
      at: callback.at,
      source: 'webhook',
      attempt: null,
      detail: 'quick reply "Yes" (payload CONFIRM_DELIVERY)',
      reply: { kind: 'quick_reply', payload: 'CONFIRM_DELIVERY', title: 'Yes' },
    });
  });

  it('an interactive button reply and a list reply are each recorded and delivered with their id and title', async () => {
    const button = await sentAndRead(stack);
    await simInbound(stack, { reply_to: button.providerId, interactive: { type: 'button_reply', id: 'reschedule', title: 'Change' } });
    expect((await replyCallback(button.id)).reply).toEqual({ kind: 'button_reply', payload: 'reschedule', title: 'Change' });

    // A list reply as Meta posts it, straight to the webhook.
    const list = await sentAndRead(stack);
    const raw = metaWebhook({
      messages: [
        {
          context: { from: '15550000001', id: list.providerId },
          from: list.phone.slice(1),
          id: `wamid.list-${list.id}`,
          timestamp: String(Math.floor(Date.now() / 1000)),
          type: 'interactive',
          interactive: { type: 'list_reply', list_reply: { id: 'slot_2', title: 'Tomorrow', description: '10:00–12:00' } },
        },
      ],
    });
    expect(await postMetaWebhook(stack, raw)).toBe(200);
    const reply = { kind: 'list_reply', payload: 'slot_2', title: 'Tomorrow', description: '10:00–12:00' };
    expect((await replyCallback(list.id)).reply).toEqual(reply);
    expect((await getMessage(stack, list.id)).body.events.filter((e: { status: string }) => e.status === 'reply')).toMatchObject([
      { reply },
    ]);
  });

  it('a reply to nothing Herald sent is kept as an inbound message: no message changes, no callback', async () => {
    const phone = uniquePhone();
    const before = received.length;
    const tap = await simInbound(stack, { from: phone, reply_to: 'wamid.NOT-FROM-HERALD', button: { payload: 'YES', text: 'Yes' } });
    expect(tap.body.herald).toMatchObject({ status: 200, body: { received: 1 } });
    const job = await waitFor(async () => (await stack.queues.inbound.getCompleted()).find((j) => j.data.messages[0]?.from === phone), {
      what: 'the inbound job',
    });
    expect(job.data.messages[0]).toMatchObject({ reply_to: 'wamid.NOT-FROM-HERALD', reply: { payload: 'YES' } });
    expect(job.returnvalue).toEqual({ applied: 0, replies: 0 });
    await new Promise((r) => setTimeout(r, 300));
    expect(received.length).toBe(before);
  });

  it('a quick reply whose payload is an opt-out keyword opts the sender out, and still reaches upstream', async () => {
    const { id, providerId, phone } = await sentAndRead(stack);
    await simInbound(stack, { reply_to: providerId, button: { payload: 'STOP', text: 'Stop these reminders' } });
    await waitFor(async () => (await stack.store.settings.get(phone))?.opted_out === true, { what: 'the opt-out' });
    expect((await replyCallback(id)).reply).toEqual({ kind: 'quick_reply', payload: 'STOP', title: 'Stop these reminders' });
    expect((await send(stack, reminder(phone))).body.status).toBe('suppressed');
  });

  it('the same reply applied twice (a retried inbound job) is on the timeline once', async () => {
    const { id } = await sentAndRead(stack);
    const entry = { status: 'reply', at: new Date().toISOString(), source: 'webhook' as const, attempt: null, detail: 'x' };
    expect(await stack.store.messages.recordReply(id, 'reply:meta:wamid.TWICE', entry)).toMatchObject({ _id: id, status: 'read' });
    expect(await stack.store.messages.recordReply(id, 'reply:meta:wamid.TWICE', entry)).toBeNull();
    const replies = (await getMessage(stack, id)).body.events.filter((e: { status: string }) => e.status === 'reply');
    expect(replies).toHaveLength(1);
  });
});

describe('replies through Twilio', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ provider: 'twilio', webhookDelaysMs: { sent: 10, delivered: 20, read: 30 } });
  });
  afterAll(() => stack?.close());

  it('ButtonPayload with OriginalRepliedMessageSid reaches the upstream callback and the timeline', async () => {
    const { id, providerId } = await sentAndRead(stack);
    expect(providerId).toMatch(/^SM/);
    const tap = await simInbound(stack, { provider: 'twilio', reply_to: providerId, button: { payload: 'CONFIRM', text: 'Confirm' } });
    expect(tap.body.herald.status).toBe(200);
    const callback = await replyCallback(id);
    expect(callback).toMatchObject({
      event: 'reply',
      id,
      provider_message_id: providerId,
      reply: { kind: 'quick_reply', payload: 'CONFIRM', title: 'Confirm' },
    });
    const events = (await getMessage(stack, id)).body.events;
    expect(events.at(-1)).toMatchObject({ status: 'reply', source: 'webhook', reply: { payload: 'CONFIRM' } });
  });

  it('the simulator refuses an interactive reply for Twilio, naming the field', async () => {
    const tap = await simInbound(stack, {
      provider: 'twilio',
      from: uniquePhone(),
      interactive: { type: 'button_reply', id: 'a', title: 'A' },
    });
    expect(tap.status).toBe(400);
    expect(tap.body.field).toBe('interactive');
  });
});
