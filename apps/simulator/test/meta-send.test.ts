import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ACCESS_TOKEN, control, type Harness, type Json, PHONE_NUMBER_ID, send, startHarness, textMessage } from './helpers.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());
beforeEach(() => control(h.sim, 'POST', '/_sim/reset'));

function expectMetaError(body: Json, code: number) {
  expect(body).toEqual({
    error: expect.objectContaining({
      message: expect.stringMatching(new RegExp(`^\\(#${code}\\) `)),
      type: expect.any(String),
      code,
      fbtrace_id: expect.any(String),
      error_data: { messaging_product: 'whatsapp', details: expect.any(String) },
    }),
  });
}

describe('Meta send: authentication', () => {
  it('answers 401 with code 190 when the Authorization header is missing', async () => {
    const response = await fetch(h.sendUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(textMessage('+919876543210')),
    });
    expect(response.status).toBe(401);
    const body = (await response.json()) as Json;
    expectMetaError(body, 190);
    expect(body.error.type).toBe('OAuthException');
  });

  it('answers 401 with code 190 for a wrong token and records nothing as accepted', async () => {
    const response = await send(h.sendUrl, textMessage('+919876543210'), `${ACCESS_TOKEN}x`);
    expect(response.status).toBe(401);
    expectMetaError(response.body, 190);
    const records = await control(h.sim, 'GET', '/_sim/messages');
    expect(records.body.messages).toEqual([]);
    expect(records.body.requests).toEqual([expect.objectContaining({ outcome: 'error:190', http_status: 401 })]);
  });

  it('answers 400 code 100 for a phone number id it does not know', async () => {
    const response = await send(h.sendUrl.replace(PHONE_NUMBER_ID, '999'), textMessage('+919876543210'));
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe(100);
    expect(response.body.error.message).toContain("'999'");
  });
});

describe('Meta send: validation', () => {
  const cases: Array<{ name: string; body: unknown; code: number; field: string }> = [
    {
      name: 'missing messaging_product',
      body: { to: '+919876543210', type: 'text', text: { body: 'x' } },
      code: 131008,
      field: 'messaging_product',
    },
    {
      name: 'wrong messaging_product',
      body: { ...textMessage('+919876543210'), messaging_product: 'sms' },
      code: 100,
      field: 'messaging_product',
    },
    { name: 'missing to', body: { messaging_product: 'whatsapp', type: 'text', text: { body: 'x' } }, code: 131008, field: 'to' },
    {
      name: 'missing text.body',
      body: { messaging_product: 'whatsapp', to: '+919876543210', type: 'text', text: {} },
      code: 131008,
      field: 'text.body',
    },
    { name: 'text.body over 4096 chars', body: textMessage('+919876543210', 'x'.repeat(4097)), code: 100, field: 'text.body' },
    { name: 'text.body not a string', body: { ...textMessage('+919876543210'), text: { body: 42 } }, code: 100, field: 'text.body' },
    {
      name: 'template without language.code',
      body: {
        messaging_product: 'whatsapp',
        to: '+919876543210',
        type: 'template',
        template: { name: 'order_confirmation', language: {} },
      },
      code: 131008,
      field: 'template.language.code',
    },
    {
      name: 'template without name',
      body: { messaging_product: 'whatsapp', to: '+919876543210', type: 'template', template: { language: { code: 'en_US' } } },
      code: 131008,
      field: 'template.name',
    },
    {
      name: 'text parameter without text',
      body: {
        messaging_product: 'whatsapp',
        to: '+919876543210',
        type: 'template',
        template: {
          name: 't',
          language: { code: 'en' },
          components: [{ type: 'body', parameters: [{ type: 'text', text: 'A' }, { type: 'text' }] }],
        },
      },
      code: 131008,
      field: 'template.components[0].parameters[1].text',
    },
  ];

  for (const testCase of cases) {
    it(`rejects ${testCase.name} with code ${testCase.code} naming ${testCase.field}`, async () => {
      const response = await send(h.sendUrl, testCase.body);
      expect(response.status).toBe(400);
      expectMetaError(response.body, testCase.code);
      expect(response.body.error.message).toContain(testCase.field);
      const records = await control(h.sim, 'GET', '/_sim/messages');
      expect(records.body.messages).toHaveLength(0);
    });
  }

  it('accepts a text body of exactly 4096 characters', async () => {
    const response = await send(h.sendUrl, textMessage('+919876543210', 'x'.repeat(4096)));
    expect(response.status).toBe(200);
  });

  it('answers malformed JSON with Meta envelope code 100', async () => {
    const response = await send(h.sendUrl, '{"messaging_product":');
    expect(response.status).toBe(400);
    expectMetaError(response.body, 100);
  });
});

describe('Meta send: success', () => {
  it('answers a text message in exactly Meta’s shape and records it', async () => {
    const response = await send(h.sendUrl, textMessage('+919876543210', 'Hello Asha'));
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      messaging_product: 'whatsapp',
      contacts: [{ input: '+919876543210', wa_id: '919876543210' }],
      messages: [{ id: expect.stringMatching(/^wamid\.[A-Za-z0-9+/=_-]{16,}$/) }],
    });
    const records = await control(h.sim, 'GET', '/_sim/messages');
    expect(records.body.messages).toEqual([
      expect.objectContaining({ id: response.body.messages[0].id, to: '+919876543210', type: 'text', text: 'Hello Asha', template: null }),
    ]);
    expect(new Date(records.body.messages[0].received_at).getTime()).toBeGreaterThan(Date.now() - 10_000);
  });

  it('accepts a template with positional body parameters and records the template', async () => {
    const template = {
      name: 'order_confirmation',
      language: { code: 'en_US' },
      components: [
        {
          type: 'body',
          parameters: [
            { type: 'text', text: 'Asha' },
            { type: 'text', text: 'ORD-1' },
          ],
        },
      ],
    };
    const response = await send(h.sendUrl, {
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: '+14155550100',
      type: 'template',
      template,
    });
    expect(response.status).toBe(200);
    expect(response.body.contacts).toEqual([{ input: '+14155550100', wa_id: '14155550100' }]);
    const records = await control(h.sim, 'GET', '/_sim/messages');
    expect(records.body.messages[0]).toMatchObject({ type: 'template', text: null, template });
  });

  it('gives every accepted message a distinct id', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 20; i++) ids.add((await send(h.sendUrl, textMessage('+919876543210'))).body.messages[0].id);
    expect(ids.size).toBe(20);
  });
});
