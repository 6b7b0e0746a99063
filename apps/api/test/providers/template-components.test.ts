import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getMessage, send } from '../helpers.ts';
import { type Stack, startStack, uniquePhone, waitFor } from '../stack.ts';

// Rich templates end to end: mappings saved through the API (and refused there when wrong), sent
// by the worker through the real adapters to the simulator, which records exactly what it got.

interface SimMessage {
  type: string;
  text: string | null;
  template: unknown;
  media: unknown;
}

async function simMessage(stack: Stack, phone: string): Promise<SimMessage> {
  return waitFor(
    async () => {
      const res = await fetch(`${stack.sim.url}/_sim/messages?to=${encodeURIComponent(phone)}`);
      return ((await res.json()) as { messages: SimMessage[] }).messages[0];
    },
    { what: `the simulator's record for ${phone}` },
  );
}

async function putTemplate(stack: Stack, type: string, body: object) {
  const res = await stack.api.inject({
    method: 'PUT',
    url: `/api/notifications/templates/${type}`,
    headers: { authorization: `Bearer ${stack.token('admin')}` },
    payload: body,
  });
  return { status: res.statusCode, body: res.json() };
}

const invoiceContext = {
  customer_name: 'Asha',
  order_id: 'ORD-7',
  invoice_url: 'https://cdn.example.com/invoices/INV-7.pdf',
  invoice_name: 'INV-7.pdf',
};

describe('Meta template components', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ provider: 'meta', worker: false });
    // Saved through the API before the worker starts, so the worker loads them with its templates.
    const saved = await Promise.all([
      putTemplate(stack, 'invoice_ready', {
        content: 'Hi {{customer_name}}, the invoice for order {{order_id}} is attached.',
        variables: ['invoice_url', 'invoice_name'],
        providers: {
          meta: {
            name: 'herald_invoice_ready',
            language: 'en_US',
            header: { type: 'document', link_from: 'invoice_url', filename_from: 'invoice_name' },
            body: ['customer_name', 'order_id'],
            buttons: [{ type: 'url', index: 0, suffix_from: 'order_id' }],
          },
        },
      }),
      putTemplate(stack, 'named_greeting', {
        content: 'Hi {{customer_name}}, order {{order_id}} has shipped.',
        providers: {
          meta: {
            name: 'herald_named_greeting',
            language: 'en',
            header: { type: 'text', text_from: 'order_id', parameter_name: 'order' },
            body: [
              { parameter_name: 'first_name', from: 'customer_name' },
              { parameter_name: 'order_number', from: 'order_id' },
            ],
          },
        },
      }),
      putTemplate(stack, 'delivery_check', {
        content: 'Did order {{order_id}} arrive? Use {{coupon}} next time.',
        providers: {
          meta: {
            name: 'herald_delivery_check',
            language: 'en',
            body: ['order_id'],
            buttons: [
              { type: 'quick_reply', index: 0, payload: 'confirm_yes' },
              { type: 'quick_reply', index: 1, payload: 'confirm_no' },
              { type: 'copy_code', index: 2, coupon_code_from: 'coupon' },
            ],
          },
        },
      }),
    ]);
    for (const res of saved) expect(res.status, JSON.stringify(res.body)).toBe(201);
    await stack.startWorker();
    await stack.faults({ webhooks: { statuses: [] } });
  });
  afterAll(() => stack?.close());

  it('a document header and a URL button go to Meta as exactly these components', async () => {
    const phone = uniquePhone();
    const res = await send(stack, { phone, message_type: 'invoice_ready', context: invoiceContext });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.status).toBe('sent');
    const sim = await simMessage(stack, phone);
    expect(sim.type).toBe('template');
    expect(sim.template).toEqual({
      name: 'herald_invoice_ready',
      language: { policy: 'deterministic', code: 'en_US' },
      components: [
        {
          type: 'header',
          parameters: [{ type: 'document', document: { link: 'https://cdn.example.com/invoices/INV-7.pdf', filename: 'INV-7.pdf' } }],
        },
        {
          type: 'body',
          parameters: [
            { type: 'text', text: 'Asha' },
            { type: 'text', text: 'ORD-7' },
          ],
        },
        { type: 'button', sub_type: 'url', index: '0', parameters: [{ type: 'text', text: 'ORD-7' }] },
      ],
    });
  });

  it('named body parameters (and a named header parameter) carry parameter_name', async () => {
    const phone = uniquePhone();
    const res = await send(stack, { phone, message_type: 'named_greeting', context: { customer_name: 'Ravi', order_id: 'ORD-9' } });
    expect(res.body.status).toBe('sent');
    const sim = await simMessage(stack, phone);
    expect(sim.template).toEqual({
      name: 'herald_named_greeting',
      language: { policy: 'deterministic', code: 'en' },
      components: [
        { type: 'header', parameters: [{ type: 'text', parameter_name: 'order', text: 'ORD-9' }] },
        {
          type: 'body',
          parameters: [
            { type: 'text', parameter_name: 'first_name', text: 'Ravi' },
            { type: 'text', parameter_name: 'order_number', text: 'ORD-9' },
          ],
        },
      ],
    });
  });

  it('quick reply buttons with their payloads and a copy code button with its coupon code', async () => {
    const phone = uniquePhone();
    const res = await send(stack, { phone, message_type: 'delivery_check', context: { order_id: 'ORD-3', coupon: 'SAVE25' } });
    expect(res.body.status).toBe('sent');
    const sim = await simMessage(stack, phone);
    expect((sim.template as { components: unknown[] }).components).toEqual([
      { type: 'body', parameters: [{ type: 'text', text: 'ORD-3' }] },
      { type: 'button', sub_type: 'quick_reply', index: '0', parameters: [{ type: 'payload', payload: 'confirm_yes' }] },
      { type: 'button', sub_type: 'quick_reply', index: '1', parameters: [{ type: 'payload', payload: 'confirm_no' }] },
      { type: 'button', sub_type: 'copy_code', index: '2', parameters: [{ type: 'coupon_code', coupon_code: 'SAVE25' }] },
    ]);
  });

  it('a coupon code Meta would refuse (not alphanumeric) fails the message with Meta’s error', async () => {
    const phone = uniquePhone();
    const res = await send(stack, { phone, message_type: 'delivery_check', context: { order_id: 'ORD-4', coupon: 'SAVE 25%' } });
    const failed = await waitFor(
      async () => {
        const m = (await getMessage(stack, res.body.id)).body;
        return m.status === 'failed' ? m : undefined;
      },
      { what: 'failed' },
    );
    expect(failed.error.code).toBe('100');
    expect(failed.error.message).toMatch(/coupon_code/);
  });

  describe('a mapping is checked when the template is saved', () => {
    it('a context key that is not a variable of the template is a 400 naming the field', async () => {
      const res = await putTemplate(stack, 'bad_suffix', {
        content: 'Order {{order_id}} shipped',
        providers: {
          meta: { name: 'x', language: 'en', body: ['order_id'], buttons: [{ type: 'url', index: 0, suffix_from: 'orderid' }] },
        },
      });
      expect(res.status).toBe(400);
      expect(res.body.issues[0].path).toBe('providers.meta.buttons[0].suffix_from');
      expect(res.body.message).toBe(
        'providers.meta.buttons[0].suffix_from: "orderid" is not a variable of this template (its variables: order_id)',
      );
      expect(
        (
          await stack.api.inject({
            method: 'GET',
            url: '/api/notifications/templates/bad_suffix',
            headers: { authorization: `Bearer ${stack.token('admin')}` },
          })
        ).statusCode,
      ).toBe(404);
    });

    it('a media key the message does not declare is named too', async () => {
      const res = await putTemplate(stack, 'bad_header', {
        content: 'Your invoice',
        providers: { meta: { name: 'x', language: 'en', header: { type: 'document', link_from: 'invoice_url' } } },
      });
      expect(res.status).toBe(400);
      expect(res.body.issues[0].path).toBe('providers.meta.header.link_from');
    });

    it('a component the provider does not have is a 400 naming it', async () => {
      const twilioButtons = await putTemplate(stack, 'bad_twilio', {
        content: 'Hi {{customer_name}}',
        providers: { twilio: { content_sid: `HX${'0'.repeat(32)}`, variables: { '1': 'customer_name' }, buttons: [] } },
      });
      expect(twilioButtons.status).toBe(400);
      expect(twilioButtons.body.issues[0].path).toBe('providers.twilio.buttons');
      const audioHeader = await putTemplate(stack, 'bad_audio', {
        content: 'Hi {{customer_name}}',
        providers: { meta: { name: 'x', language: 'en', header: { type: 'audio', link_from: 'customer_name' } } },
      });
      expect(audioHeader.status).toBe(400);
      expect(audioHeader.body.issues[0].path).toMatch(/^providers\.meta\.header/);
      const mixed = await putTemplate(stack, 'bad_mixed', {
        content: 'Hi {{customer_name}} {{order_id}}',
        providers: { meta: { name: 'x', language: 'en', body: ['customer_name', { parameter_name: 'order', from: 'order_id' }] } },
      });
      expect(mixed.status).toBe(400);
      expect(mixed.body.issues[0]).toEqual({
        path: 'providers.meta.body',
        message: 'mixes positional and named parameters; a Meta template uses one parameter format',
      });
    });
  });

  describe('media links are checked when the message is accepted', () => {
    it.each([
      ['http://cdn.example.com/x.pdf', /must be an https URL/],
      ['https://127.0.0.1/x.pdf', /private, loopback or link-local/],
      ['https://10.0.0.8/x.pdf', /private, loopback or link-local/],
      ['https://localhost/x.pdf', /local host name/],
    ])('%s is a 400 naming the context key', async (url, message) => {
      const res = await send(stack, {
        phone: uniquePhone(),
        message_type: 'invoice_ready',
        context: { ...invoiceContext, invoice_url: url },
      });
      expect(res.status).toBe(400);
      expect(res.body.issues[0].path).toBe('context.invoice_url');
      expect(res.body.message).toMatch(message);
    });

    it('an attachment with a private URL is a 400 naming media.url', async () => {
      const res = await send(stack, {
        phone: uniquePhone(),
        message_type: 'delivery_reminder',
        context: { customer_name: 'Asha', delivery_date: '2026-02-01' },
        media: { type: 'document', url: 'https://192.168.0.10/x.pdf' },
      });
      expect(res.status).toBe(400);
      expect(res.body.issues[0].path).toBe('media.url');
    });

    it('an attachment on a template that goes as a Meta template is a 400', async () => {
      const res = await send(stack, {
        phone: uniquePhone(),
        message_type: 'invoice_ready',
        context: invoiceContext,
        media: { type: 'document', url: 'https://cdn.example.com/x.pdf' },
      });
      expect(res.status).toBe(400);
      expect(res.body.issues[0].path).toBe('media');
    });
  });

  it('a text message with a document attachment goes as a document message, the text as its caption', async () => {
    const phone = uniquePhone();
    const res = await send(stack, {
      phone,
      message_type: 'delivery_reminder',
      context: { customer_name: 'Asha', delivery_date: '2026-02-01' },
      media: { type: 'document', url: 'https://cdn.example.com/slots/feb.pdf', filename: 'slots.pdf' },
    });
    expect(res.body.status).toBe('sent');
    const sim = await simMessage(stack, phone);
    expect(sim.type).toBe('document');
    expect(sim.media).toEqual({
      link: 'https://cdn.example.com/slots/feb.pdf',
      caption: `Hi Asha, your ${stack.config.BRAND_NAME} delivery is scheduled for 2026-02-01.`,
      filename: 'slots.pdf',
    });
    const detail = (await getMessage(stack, res.body.id)).body;
    expect(detail.media).toEqual({ type: 'document', url: 'https://cdn.example.com/slots/feb.pdf', filename: 'slots.pdf' });
  });
});

describe('Twilio content variables and media', () => {
  let stack: Stack;
  const contentSid = `HX${'0123456789abcdef'.repeat(2)}`;
  beforeAll(async () => {
    stack = await startStack({ provider: 'twilio', worker: false });
    const saved = await putTemplate(stack, 'invoice_ready', {
      content: 'Hi {{customer_name}}, the invoice for order {{order_id}} is attached.',
      variables: ['invoice_url'],
      providers: {
        twilio: {
          content_sid: contentSid,
          variables: { '1': 'customer_name', '2': 'order_id' },
          media: { variable: '3', url_from: 'invoice_url', url_prefix: 'https://cdn.example.com/' },
        },
      },
    });
    expect(saved.status, JSON.stringify(saved.body)).toBe(201);
    await stack.startWorker();
    await stack.faults({ webhooks: { statuses: [] } });
  });
  afterAll(() => stack?.close());

  it('ContentSid with ContentVariables, the media variable the URL after the template’s prefix', async () => {
    const phone = uniquePhone();
    const res = await send(stack, { phone, message_type: 'invoice_ready', context: invoiceContext });
    expect(res.body.status).toBe('sent');
    const sim = await simMessage(stack, phone);
    expect(sim.type).toBe('template');
    expect(sim.template).toEqual({ content_sid: contentSid, variables: { '1': 'Asha', '2': 'ORD-7', '3': 'invoices/INV-7.pdf' } });
    expect(sim.media).toBeNull();
  });

  it('a media URL outside the template’s prefix is a 400 naming the context key', async () => {
    const res = await send(stack, {
      phone: uniquePhone(),
      message_type: 'invoice_ready',
      context: { ...invoiceContext, invoice_url: 'https://files.example.org/INV-7.pdf' },
    });
    expect(res.status).toBe(400);
    expect(res.body.issues[0].path).toBe('context.invoice_url');
    expect(res.body.message).toMatch(/must start with https:\/\/cdn\.example\.com\//);
  });

  it('a text message with a document attachment goes as Body and MediaUrl', async () => {
    const phone = uniquePhone();
    const res = await send(stack, {
      phone,
      message_type: 'delivery_reminder',
      context: { customer_name: 'Asha', delivery_date: '2026-02-01' },
      media: { type: 'document', url: 'https://cdn.example.com/slots/feb.pdf' },
    });
    expect(res.body.status).toBe('sent');
    const sim = await simMessage(stack, phone);
    expect(sim.type).toBe('text');
    expect(sim.text).toMatch(/^Hi Asha, your .+ delivery is scheduled for 2026-02-01\.$/);
    expect(sim.media).toEqual(['https://cdn.example.com/slots/feb.pdf']);
  });
});
