import { describe, expect, it } from 'vitest';
import { MyOperatorApi, MyOperatorWebhooks } from '../src/providers/myoperator.ts';
import { TwilioMessaging, TwilioWebhooks, toTwilioError, twilioSignature } from '../src/providers/twilio.ts';

const template = {
  type: 'order_confirmation',
  context: { order_id: 'ORD-1', customer_name: 'Asha', total_amount: 450 },
  providers: {
    twilio: { content_sid: `HX${'a'.repeat(32)}`, variables: { '1': 'customer_name', '2': 'order_id' } },
    myoperator: { template_name: 'order_confirmation', language: 'en', params: ['order_id', 'total_amount'] },
  },
};

describe('Twilio', () => {
  it("computes the official test vector of Twilio's own SDK", () => {
    const params = { CallSid: 'CA1234567890ABCDE', Caller: '+14158675309', Digits: '1234', From: '+14158675309', To: '+18005551212' };
    expect(twilioSignature('12345', 'https://mycompany.com/myapp.php?foo=1&bar=2', params)).toBe('RSOYDt4T1cUTdK1PDd93/VVr8B8=');
    const raw = Buffer.from(new URLSearchParams(params).toString());
    const url = 'https://mycompany.com/myapp.php?foo=1&bar=2';
    const w = new TwilioWebhooks('12345');
    expect(w.verifyWebhook({ rawBody: raw, url, headers: { 'x-twilio-signature': 'RSOYDt4T1cUTdK1PDd93/VVr8B8=' } })).toBe(true);
    // Another URL (a Host header behind a proxy), another token, or no header: refused.
    expect(
      w.verifyWebhook({
        rawBody: raw,
        url: 'http://10.0.0.1/myapp.php?foo=1&bar=2',
        headers: { 'x-twilio-signature': 'RSOYDt4T1cUTdK1PDd93/VVr8B8=' },
      }),
    ).toBe(false);
    expect(
      new TwilioWebhooks('54321').verifyWebhook({ rawBody: raw, url, headers: { 'x-twilio-signature': 'RSOYDt4T1cUTdK1PDd93/VVr8B8=' } }),
    ).toBe(false);
    expect(w.verifyWebhook({ rawBody: raw, url, headers: {} })).toBe(false);
  });

  it('sends ContentSid + ContentVariables when the template has a Twilio mapping, Body otherwise', () => {
    const t = new TwilioMessaging({
      baseUrl: 'http://x',
      accountSid: 'AC1',
      authToken: 't',
      from: '+14155238886',
      publicBaseUrl: 'https://herald.example/',
    });
    const mapped = t.buildForm({ id: 'msg_1', to: '+919876543210', text: 'Order #ORD-1 confirmed', template });
    expect(mapped).toEqual({
      To: 'whatsapp:+919876543210',
      From: 'whatsapp:+14155238886',
      StatusCallback: 'https://herald.example/api/v1/twilio/status?herald_id=msg_1',
      ContentSid: `HX${'a'.repeat(32)}`,
      ContentVariables: JSON.stringify({ '1': 'Asha', '2': 'ORD-1' }),
    });
    const plain = t.buildForm({ id: 'msg_1', to: '+919876543210', text: 'hello', template: { ...template, providers: {} } });
    expect(plain.Body).toBe('hello');
    expect(plain.ContentSid).toBeUndefined();
  });

  it('classifies by code first: 20429 and 63018 throttle, 21211 and 63016 permanent, 5xx retried', () => {
    expect(toTwilioError(429, { code: 20429, message: 'Too Many Requests' }, '3')).toMatchObject({
      throttled: true,
      retryable: true,
      retry_after_ms: 3000,
    });
    expect(toTwilioError(429, { code: 63018 }, undefined)).toMatchObject({ throttled: true });
    expect(toTwilioError(400, { code: 21211, message: 'bad To' }, undefined)).toMatchObject({ code: '21211', retryable: false });
    const outside = toTwilioError(400, { code: 63016, message: 'outside window' }, undefined);
    expect(outside.retryable).toBe(false);
    expect(outside.message).toContain('template');
    expect(toTwilioError(503, undefined, undefined)).toMatchObject({ code: 'http_503', retryable: true, throttled: false });
  });

  it('maps undelivered onto failed with the reason, and inbound messages', () => {
    const w = new TwilioWebhooks('t');
    const parse = (form: Record<string, string>) =>
      w.parseWebhook({ rawBody: Buffer.from(new URLSearchParams(form).toString()), url: '', headers: {} });
    const failed = parse({ MessageSid: 'SM1', MessageStatus: 'undelivered', ErrorCode: '63016' });
    expect(failed.statuses[0]).toMatchObject({ provider_message_id: 'SM1', status: 'failed', error: { code: '63016' } });
    expect(failed.statuses[0]?.herald_id).toBeUndefined();
    // The id Herald put on the StatusCallback URL comes back with the callback.
    const ours = w.parseWebhook({
      rawBody: Buffer.from(new URLSearchParams({ MessageSid: 'SM3', MessageStatus: 'sent' }).toString()),
      url: 'https://herald.example/api/v1/twilio/status?herald_id=msg_7',
      headers: {},
    });
    expect(ours.statuses[0]).toMatchObject({ provider_message_id: 'SM3', status: 'sent', herald_id: 'msg_7' });
    expect(parse({ MessageSid: 'SM1', MessageStatus: 'queued' }).statuses).toHaveLength(0);
    expect(parse({ MessageSid: 'SM2', SmsStatus: 'received', Body: 'STOP', From: 'whatsapp:+919876543210' }).inbound[0]).toMatchObject({
      from: '+919876543210',
      text: 'STOP',
    });
  });
});

describe('MyOperator', () => {
  const api = new MyOperatorApi({ baseUrl: 'http://x', sendPath: '/chat/messages', apiKey: 'k', companyId: 'c', phoneNumberId: 'p1' });

  it('splits the number, correlates on our id and sends the mapped template', () => {
    expect(api.buildBody({ id: 'msg_1', to: '+919876543210', text: 'hi' })).toEqual({
      phone_number_id: 'p1',
      customer_country_code: '91',
      customer_number: '9876543210',
      myop_ref_id: 'msg_1',
      data: { type: 'text', context: { body: 'hi' } },
    });
    expect(api.buildBody({ id: 'msg_1', to: '+919876543210', text: 'x', template }).data).toEqual({
      type: 'template',
      context: { template_name: 'order_confirmation', language: 'en', body: { '1': 'ORD-1', '2': '450' } },
    });
  });

  it('accepts only the shared secret and keys events by event_id', () => {
    const w = new MyOperatorWebhooks('s3cret');
    const raw = Buffer.from(
      JSON.stringify({ event_id: 'e1', event_type: 'x', timestamp: 1, payload: { myop_ref_id: 'msg_1', status: 'undelivered' } }),
    );
    expect(w.verifyWebhook({ rawBody: raw, url: '', headers: { 'x-myoperator-secret': 's3cret' } })).toBe(true);
    expect(w.verifyWebhook({ rawBody: raw, url: '', headers: { 'x-myoperator-secret': 's3cre' } })).toBe(false);
    expect(new MyOperatorWebhooks(undefined).verifyWebhook({ rawBody: raw, url: '', headers: { 'x-myoperator-secret': '' } })).toBe(false);
    const parsed = w.parseWebhook({ rawBody: raw, url: '', headers: {} });
    expect(parsed.id).toBe('myoperator:e1');
    expect(parsed.statuses[0]).toMatchObject({ provider_message_id: 'msg_1', status: 'failed', herald_id: 'msg_1' });
  });
});
