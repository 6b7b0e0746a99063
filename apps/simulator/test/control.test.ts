import { describe, expect, it } from 'vitest';
import { startSimulator } from '../src/index.ts';
import { control, type Json, receivedAt, send, sleep, textMessage, useHarness, waitFor } from './helpers.ts';

const h = useHarness();

describe('POST /_sim/inbound', () => {
  it('posts a signed Meta inbound text message and reports Herald’s answer', async () => {
    h.herald.answer = () => 202;
    const answer = await control(h.sim, 'POST', '/_sim/inbound', { from: '+919876543210', text: 'STOP', name: 'Asha' });
    expect(answer.status).toBe(200);
    expect(answer.body.herald).toMatchObject({ status: 202, body: { received: true } });
    expect(h.herald.received).toHaveLength(1);
    const webhook = receivedAt(h.herald, 0);
    expect(webhook.signatureValid).toBe(true);
    expect(webhook.json).toEqual(answer.body.posted);
    const value = webhook.json.entry[0].changes[0].value;
    expect(webhook.json.object).toBe('whatsapp_business_account');
    expect(value.contacts).toEqual([{ profile: { name: 'Asha' }, wa_id: '919876543210' }]);
    expect(value.messages).toEqual([
      {
        from: '919876543210',
        id: expect.stringMatching(/^wamid\./),
        timestamp: expect.stringMatching(/^\d{10}$/),
        type: 'text',
        text: { body: 'STOP' },
      },
    ]);
  });

  it('rejects an inbound message without text, naming the field', async () => {
    const answer = await control(h.sim, 'POST', '/_sim/inbound', { from: '+919876543210' });
    expect(answer.status).toBe(400);
    expect(answer.body.field).toBe('text');
    expect(h.herald.received).toHaveLength(0);
  });

  it('posts a quick-reply tap answering a message it received, from that message’s recipient', async () => {
    const sent = await send(h.sendUrl, textMessage('+919876543210', 'Confirm delivery?'));
    const wamid = sent.body.messages[0].id as string;
    const answer = await control(h.sim, 'POST', '/_sim/inbound', { reply_to: wamid, button: { payload: 'CONFIRM', text: 'Yes' } });
    expect(answer.status).toBe(200);
    const webhook = h.herald.received.find((w) => w.json.entry[0].changes[0].value.messages);
    expect(webhook?.signatureValid).toBe(true);
    // Meta's ButtonMessage (business-messaging-api v23.0).
    expect(webhook?.json.entry[0].changes[0].value.messages).toEqual([
      {
        context: { from: '15550000001', id: wamid },
        from: '919876543210',
        id: expect.stringMatching(/^wamid\./),
        timestamp: expect.stringMatching(/^\d{10}$/),
        type: 'button',
        button: { payload: 'CONFIRM', text: 'Yes' },
      },
    ]);
  });

  it('posts an interactive list reply with its context', async () => {
    const answer = await control(h.sim, 'POST', '/_sim/inbound', {
      from: '+919876543210',
      reply_to: 'wamid.OTHER',
      interactive: { type: 'list_reply', id: 'slot_2', title: 'Tomorrow', description: '10:00–12:00' },
    });
    expect(answer.status).toBe(200);
    expect(answer.body.posted.entry[0].changes[0].value.messages[0]).toMatchObject({
      context: { id: 'wamid.OTHER' },
      type: 'interactive',
      interactive: { type: 'list_reply', list_reply: { id: 'slot_2', title: 'Tomorrow', description: '10:00–12:00' } },
    });
  });

  it('refuses a reply without a sender when reply_to names no message it received', async () => {
    const answer = await control(h.sim, 'POST', '/_sim/inbound', { reply_to: 'wamid.UNKNOWN', button: { payload: 'P', text: 'T' } });
    expect(answer.status).toBe(400);
    expect(answer.body.field).toBe('from');
    expect(h.herald.received).toHaveLength(0);
  });

  it('refuses a tap the provider does not post, naming it', async () => {
    const answer = await control(h.sim, 'POST', '/_sim/inbound', {
      provider: 'myoperator',
      from: '+919876543210',
      button: { payload: 'P', text: 'T' },
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ field: 'button', message: expect.stringContaining('myoperator') });
  });

  it('reports Herald being unreachable instead of failing', async () => {
    const lonely = await startSimulator({ webhookBaseUrl: 'http://127.0.0.1:1' });
    try {
      const answer = await control(lonely, 'POST', '/_sim/inbound', { from: '+919876543210', text: 'hi' });
      expect(answer.status).toBe(200);
      expect(answer.body.herald).toMatchObject({ status: null, error: 'ECONNREFUSED' });
    } finally {
      await lonely.close();
    }
  });
});

describe('POST /_sim/webhook', () => {
  for (const [signature, valid, present] of [
    ['valid', true, true],
    ['invalid', false, true],
    ['none', false, false],
  ] as const) {
    it(`forwards a body with a ${signature} signature and returns Herald's status`, async () => {
      h.herald.answer = (webhook) => (webhook.signatureValid ? 200 : 401);
      const body = { object: 'whatsapp_business_account', entry: [] };
      const answer = await control(h.sim, 'POST', '/_sim/webhook', { body, signature });
      expect(answer.body.herald.status).toBe(valid ? 200 : 401);
      const received = receivedAt(h.herald, 0);
      expect(received.json).toEqual(body);
      expect(received.signatureValid).toBe(valid);
      expect(received.signature !== undefined).toBe(present);
    });
  }

  it('posts a string body byte for byte', async () => {
    const raw = '{"object":"whatsapp_business_account", "entry":[]}';
    await control(h.sim, 'POST', '/_sim/webhook', { body: raw, signature: 'valid' });
    expect(h.herald.received[0]?.raw).toBe(raw);
    expect(h.herald.received[0]?.signatureValid).toBe(true);
  });
});

describe('GET /_sim/messages and /_sim/stats', () => {
  it('filters by recipient, however the number is written', async () => {
    await send(h.sendUrl, textMessage('+919876543210', 'one'));
    await send(h.sendUrl, textMessage('+14155550100', 'two'));
    await send(h.sendUrl, textMessage('+919876543210', 'three'));
    // `+` in a query string decodes to a space; both spellings must find the messages.
    for (const query of ['?to=+919876543210', '?to=%2B919876543210', '?to=919876543210']) {
      const records = await control(h.sim, 'GET', `/_sim/messages${query}`);
      expect(records.body.messages.map((message: Json) => message.text)).toEqual(['one', 'three']);
      expect(records.body.requests).toHaveLength(2);
    }
    const all = await control(h.sim, 'GET', '/_sim/messages');
    expect(all.body.messages).toHaveLength(3);
  });

  it('counts requests, acceptances, errors by code and webhooks', async () => {
    await control(h.sim, 'PUT', '/_sim/faults', { script: [{ code: 131026 }], webhooks: { duplicate_rate: 1, statuses: ['sent'] } });
    await send(h.sendUrl, textMessage('+919876543210'));
    const accepted = await send(h.sendUrl, textMessage('+919876543210'));
    await send(h.sendUrl, textMessage('+919876543210'), 'wrong-token');
    // Count only this message's webhooks: a post from an earlier test may still land after reset.
    const wamid: string = accepted.body.messages[0].id;
    const ours = () => h.herald.received.filter((webhook) => webhook.raw.includes(wamid));
    await waitFor(() => ours().length >= 2, 10_000);
    await sleep(50);
    expect(ours()).toHaveLength(2);
    const stats = await control(h.sim, 'GET', '/_sim/stats');
    expect(stats.body).toMatchObject({
      requests: 3,
      accepted: 1,
      errors: { '131026': 1, '190': 1 },
      webhooks: { scheduled: 2, sent: 2, failed: 0, dropped: 0, duplicated: 1 },
    });
  });

  it('keeps at most maxRecords messages, forgetting the oldest', async () => {
    const small = await startSimulator({ maxRecords: 3, webhookBaseUrl: h.herald.url, meta: { accessToken: 't' } });
    try {
      for (let i = 0; i < 5; i++) await send(`${small.url}/v24.0/1/messages`, textMessage('+919876543210', `m${i}`), 't');
      const records = await control(small, 'GET', '/_sim/messages');
      expect(records.body.messages.map((message: Json) => message.text)).toEqual(['m2', 'm3', 'm4']);
      expect(records.body.requests).toHaveLength(3);
      expect((await control(small, 'GET', '/_sim/stats')).body.accepted).toBe(5);
    } finally {
      await small.close();
    }
  });
});

describe('startSimulator', () => {
  it('listens on 127.0.0.1 on a free port and closes promptly even with a held answer', async () => {
    const sim = await startSimulator({ webhookBaseUrl: h.herald.url });
    expect(sim.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await control(sim, 'PUT', '/_sim/faults', { timeout_rate: 1 });
    const pending = send(`${sim.url}/v24.0/1/messages`, textMessage('+919876543210'), 'sim-meta-access-token').catch(() => null);
    await sleep(100);
    const started = Date.now();
    await sim.close();
    expect(Date.now() - started).toBeLessThan(2_000);
    await pending;
  });
});
