import { describe, expect, it } from 'vitest';
import {
  MetaCloudApi,
  MyOperatorApi,
  mappingIssues,
  mediaUrlProblem,
  messageMediaIssues,
  ProviderError,
  sendMessageRequest,
  type TemplateProviders,
  TwilioMessaging,
  templateProviders,
} from '../src/index.ts';

const meta = new MetaCloudApi({ baseUrl: 'http://x', apiVersion: 'v23.0', phoneNumberId: 'p', accessToken: 't' });
const twilio = new TwilioMessaging({
  baseUrl: 'http://x',
  accountSid: 'AC1',
  authToken: 't',
  from: '+14155238886',
  publicBaseUrl: 'https://h.example',
});
const contentSid = `HX${'0123456789abcdef'.repeat(2)}`;

const ctx = {
  customer_name: 'Asha',
  order_id: 'ORD-7',
  invoice_url: 'https://cdn.example.com/invoices/INV-7.pdf',
  invoice_name: 'INV-7.pdf',
  coupon: 'SAVE25',
};

function metaBody(providers: TemplateProviders, context: Record<string, string> = ctx) {
  return meta.buildBody({ id: 'msg_1', to: '+919876543210', text: 'x', template: { type: 't', providers, context } });
}

describe('Meta template components', () => {
  it('the original params form is still positional body parameters', () => {
    const body = metaBody({ meta: { name: 'order', language: 'en_US', params: ['customer_name', 'order_id'] } });
    expect(body.template).toEqual({
      name: 'order',
      language: { policy: 'deterministic', code: 'en_US' },
      components: [
        {
          type: 'body',
          parameters: [
            { type: 'text', text: 'Asha' },
            { type: 'text', text: 'ORD-7' },
          ],
        },
      ],
    });
  });

  it('a document header by link with its filename, positional body, url, quick reply and copy code buttons', () => {
    const body = metaBody({
      meta: {
        name: 'invoice',
        language: 'en',
        header: { type: 'document', link_from: 'invoice_url', filename_from: 'invoice_name' },
        body: ['customer_name'],
        buttons: [
          { type: 'url', index: 0, suffix_from: 'order_id' },
          { type: 'quick_reply', index: 1, payload: 'confirm_yes' },
          { type: 'copy_code', index: 2, coupon_code_from: 'coupon' },
        ],
      },
    });
    expect((body.template as { components: unknown }).components).toEqual([
      {
        type: 'header',
        parameters: [{ type: 'document', document: { link: 'https://cdn.example.com/invoices/INV-7.pdf', filename: 'INV-7.pdf' } }],
      },
      { type: 'body', parameters: [{ type: 'text', text: 'Asha' }] },
      { type: 'button', sub_type: 'url', index: '0', parameters: [{ type: 'text', text: 'ORD-7' }] },
      { type: 'button', sub_type: 'quick_reply', index: '1', parameters: [{ type: 'payload', payload: 'confirm_yes' }] },
      { type: 'button', sub_type: 'copy_code', index: '2', parameters: [{ type: 'coupon_code', coupon_code: 'SAVE25' }] },
    ]);
  });

  it('named parameters carry parameter_name, in the header text too', () => {
    const body = metaBody({
      meta: {
        name: 'named',
        language: 'en',
        header: { type: 'text', text_from: 'order_id', parameter_name: 'order' },
        body: [{ parameter_name: 'first_name', from: 'customer_name' }],
      },
    });
    expect((body.template as { components: unknown }).components).toEqual([
      { type: 'header', parameters: [{ type: 'text', parameter_name: 'order', text: 'ORD-7' }] },
      { type: 'body', parameters: [{ type: 'text', parameter_name: 'first_name', text: 'Asha' }] },
    ]);
  });

  it('image and video headers by media id, fixed or from the context; no components when nothing varies', () => {
    const image = metaBody({ meta: { name: 'i', language: 'en', header: { type: 'image', id: '1003383421387256' } } });
    expect((image.template as { components: unknown }).components).toEqual([
      { type: 'header', parameters: [{ type: 'image', image: { id: '1003383421387256' } }] },
    ]);
    const video = metaBody({ meta: { name: 'v', language: 'en', header: { type: 'video', id_from: 'order_id' } } });
    expect((video.template as { components: unknown }).components).toEqual([
      { type: 'header', parameters: [{ type: 'video', video: { id: 'ORD-7' } }] },
    ]);
    expect(metaBody({ meta: { name: 'plain', language: 'en' } }).template).toEqual({
      name: 'plain',
      language: { policy: 'deterministic', code: 'en' },
    });
  });

  it('a text message with an attachment is a document or image message whose caption is the text', () => {
    const doc = meta.buildBody({
      id: 'm',
      to: '+919876543210',
      text: 'Your invoice',
      media: { type: 'document', url: 'https://cdn.example.com/a.pdf', filename: 'a.pdf' },
    });
    expect(doc).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: '+919876543210',
      biz_opaque_callback_data: 'm',
      type: 'document',
      document: { link: 'https://cdn.example.com/a.pdf', caption: 'Your invoice', filename: 'a.pdf' },
    });
    const image = meta.buildBody({ id: 'm', to: '+91', text: 'Look', media: { type: 'image', url: 'https://cdn.example.com/a.png' } });
    expect(image).toMatchObject({ type: 'image', image: { link: 'https://cdn.example.com/a.png', caption: 'Look' } });
    expect(() =>
      meta.buildBody({ id: 'm', to: '+91', text: 'x'.repeat(1025), media: { type: 'image', url: 'https://cdn.example.com/a.png' } }),
    ).toThrow(ProviderError);
  });
});

describe('Twilio content variables and media', () => {
  it('a media variable sends the part of the URL after the Content template prefix', () => {
    const form = twilio.buildForm({
      id: 'm',
      to: '+919876543210',
      text: 'x',
      template: {
        type: 't',
        providers: {
          twilio: {
            content_sid: contentSid,
            variables: { '1': 'customer_name' },
            media: { variable: '2', url_from: 'invoice_url', url_prefix: 'https://cdn.example.com/' },
          },
        },
        context: ctx,
      },
    });
    expect(JSON.parse(form.ContentVariables ?? '')).toEqual({ '1': 'Asha', '2': 'invoices/INV-7.pdf' });
    expect(form.MediaUrl).toBeUndefined();
  });

  it('without a prefix the whole URL is the variable; a text message takes MediaUrl beside Body', () => {
    const form = twilio.buildForm({
      id: 'm',
      to: '+919876543210',
      text: 'x',
      template: {
        type: 't',
        providers: { twilio: { content_sid: contentSid, variables: {}, media: { variable: '1', url_from: 'invoice_url' } } },
        context: ctx,
      },
    });
    expect(JSON.parse(form.ContentVariables ?? '')).toEqual({ '1': ctx.invoice_url });
    const text = twilio.buildForm({ id: 'm', to: '+919876543210', text: 'Invoice', media: { type: 'document', url: ctx.invoice_url } });
    expect(text).toMatchObject({ Body: 'Invoice', MediaUrl: ctx.invoice_url });
  });

  it('MyOperator refuses an attachment instead of dropping it', () => {
    const api = new MyOperatorApi({ baseUrl: 'http://x', sendPath: '/chat/messages', apiKey: 'k', companyId: 'c', phoneNumberId: 'p' });
    expect(() => api.buildBody({ id: 'm', to: '+919876543210', text: 'x', media: { type: 'image', url: ctx.invoice_url } })).toThrow(
      /not public/,
    );
  });
});

describe('media URLs', () => {
  it.each([
    ['https://cdn.example.com/a.pdf', undefined],
    ['https://93.184.216.34/a.pdf', undefined],
    ['http://cdn.example.com/a.pdf', 'must be an https URL'],
    ['not a url', 'must be an https URL'],
    ['https://127.0.0.1/a.pdf', 'must not point at a private, loopback or link-local address'],
    ['https://0x7f.1/a.pdf', 'must not point at a private, loopback or link-local address'],
    ['https://10.1.2.3/a.pdf', 'must not point at a private, loopback or link-local address'],
    ['https://192.168.1.1/a.pdf', 'must not point at a private, loopback or link-local address'],
    ['https://169.254.169.254/latest/meta-data', 'must not point at a private, loopback or link-local address'],
    ['https://[::1]/a.pdf', 'must not point at a private, loopback or link-local address'],
    ['https://[::ffff:127.0.0.1]/a.pdf', 'must not point at a private, loopback or link-local address'],
    ['https://[fe80::1]/a.pdf', 'must not point at a private, loopback or link-local address'],
    ['https://[fd00::1]/a.pdf', 'must not point at a private, loopback or link-local address'],
    ['https://localhost/a.pdf', 'must not point at a local host name'],
    ['https://files.internal/a.pdf', 'must not point at a local host name'],
    ['https://intranet/a.pdf', 'must have a public host name'],
    ['https://user:pw@cdn.example.com/a.pdf', 'must not carry credentials'],
  ])('%s', (url, problem) => {
    expect(mediaUrlProblem(url)).toBe(problem);
  });

  it('the send request names the field of a bad attachment', () => {
    const bad = sendMessageRequest.safeParse({
      phone: '+919876543210',
      message_type: 't',
      media: { type: 'document', url: 'https://10.0.0.5/x.pdf' },
    });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['media', 'url']);
    const image = sendMessageRequest.safeParse({
      phone: '+919876543210',
      message_type: 't',
      media: { type: 'image', url: 'https://cdn.example.com/x.png', filename: 'x.png' },
    });
    expect(image.error?.issues[0]?.path).toEqual(['media', 'filename']);
  });

  it('context values used as media are checked for every mapping, and an attachment only goes as text', () => {
    const providers: TemplateProviders = {
      meta: { name: 'inv', language: 'en', header: { type: 'document', link_from: 'invoice_url' } },
      twilio: {
        content_sid: contentSid,
        variables: {},
        media: { variable: '1', url_from: 'invoice_url', url_prefix: 'https://cdn.example.com/' },
      },
    };
    const issues = (context: Record<string, string>, provider = 'meta') =>
      messageMediaIssues({ providers, context, provider, type: 'invoice' });
    expect(issues({ invoice_url: 'https://cdn.example.com/x.pdf' })).toEqual([]);
    expect(issues({ invoice_url: 'http://cdn.example.com/x.pdf' })[0]).toEqual({
      path: 'context.invoice_url',
      message: 'must be an https URL (it is sent as the Meta header document)',
    });
    expect(issues({ invoice_url: 'https://other.example.com/x.pdf' })[0]?.message).toMatch(/must start with https:\/\/cdn\.example\.com\//);
    const attached = messageMediaIssues({
      providers,
      context: { invoice_url: 'https://cdn.example.com/x.pdf' },
      media: { type: 'image', url: 'https://cdn.example.com/x.png' },
      provider: 'meta',
      type: 'invoice',
    });
    expect(attached[0]?.path).toBe('media');
  });
});

describe('mapping validation at save', () => {
  const parse = (providers: unknown) => templateProviders.parse(providers);

  it('names a context key that is not a variable of the template', () => {
    const providers = parse({
      meta: {
        name: 'n',
        language: 'en',
        buttons: [
          { type: 'quick_reply', index: 0, payload: 'yes' },
          { type: 'url', index: 1, suffix_from: 'orderid' },
        ],
      },
    });
    expect(mappingIssues(providers, ['order_id'])).toEqual([
      { path: 'providers.meta.buttons[1].suffix_from', message: '"orderid" is not a variable of this template (its variables: order_id)' },
    ]);
  });

  it('refuses mixed parameter formats, duplicate indexes, two copy codes, two media sources', () => {
    const providers = parse({
      meta: {
        name: 'n',
        language: 'en',
        header: { type: 'image', link_from: 'a', id: '1' },
        body: ['a', { parameter_name: 'b', from: 'b' }],
        buttons: [
          { type: 'copy_code', index: 0, coupon_code_from: 'a' },
          { type: 'copy_code', index: 0, coupon_code_from: 'b' },
        ],
      },
    });
    const paths = mappingIssues(providers, ['a', 'b']).map((i) => i.path);
    expect(paths).toEqual(['providers.meta.body', 'providers.meta.header', 'providers.meta.buttons[1].index', 'providers.meta.buttons[1]']);
  });

  it('a component the provider does not have does not parse', () => {
    expect(templateProviders.safeParse({ twilio: { content_sid: contentSid, variables: {}, buttons: [] } }).success).toBe(false);
    expect(templateProviders.safeParse({ meta: { name: 'n', language: 'en', footer: { text_from: 'a' } } }).success).toBe(false);
    expect(templateProviders.safeParse({ meta: { name: 'n', language: 'en', header: { type: 'audio', link_from: 'a' } } }).success).toBe(
      false,
    );
  });

  it('Twilio: a media variable that is also a plain variable, a private prefix', () => {
    const providers = parse({
      twilio: {
        content_sid: contentSid,
        variables: { '1': 'a' },
        media: { variable: '1', url_from: 'a', url_prefix: 'https://10.0.0.1/' },
      },
    });
    expect(mappingIssues(providers, ['a']).map((i) => i.path)).toEqual([
      'providers.twilio.media.variable',
      'providers.twilio.media.url_prefix',
    ]);
  });
});
