import { describe, expect, it } from 'vitest';
import { parseMetaWebhook } from '../src/providers/meta-webhooks.ts';
import { TwilioWebhooks } from '../src/providers/twilio.ts';

/** One Meta `messages` change around the given messages. */
const metaChange = (messages: unknown[]) => ({
  object: 'whatsapp_business_account',
  entry: [{ id: '102290129340398', changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', messages } }] }],
});

describe('Meta replies', () => {
  // The examples of ButtonMessage and InteractiveMessageReply in Meta's business-messaging-api
  // v23.0 (../shared/provider-specs/business-messaging-api_v23.0.yaml).
  it('reads a quick-reply button press: payload, label and the answered message', () => {
    const parsed = parseMetaWebhook(
      metaChange([
        {
          from: '16505551234',
          id: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUU0M0MxQzQzMUJCMTMwNUZFOQA=',
          timestamp: '1750091045',
          type: 'button',
          context: { from: '15550783881', id: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJFNjk2OTMwNEZCQjhGMzUyQUYA' },
          button: { payload: 'Unsubscribe', text: 'Unsubscribe' },
        },
      ]),
    );
    expect(parsed.inbound).toEqual([
      {
        from: '+16505551234',
        text: 'Unsubscribe',
        at: new Date(1750091045 * 1000).toISOString(),
        provider_message_id: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUU0M0MxQzQzMUJCMTMwNUZFOQA=',
        reply_to: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJFNjk2OTMwNEZCQjhGMzUyQUYA',
        reply: { kind: 'quick_reply', payload: 'Unsubscribe', title: 'Unsubscribe' },
      },
    ]);
  });

  it('reads interactive list and button replies with their id, title and description', () => {
    const parsed = parseMetaWebhook(
      metaChange([
        {
          from: '16505551234',
          id: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUJDQ0NDM0FEODY4ODkzOTc5RgA=',
          timestamp: '1749854575',
          type: 'interactive',
          context: { from: '15550783881', id: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJGMzEyNzhENTZDMzNGODlDRDgA' },
          interactive: {
            type: 'list_reply',
            list_reply: { id: 'priority_express', title: 'Priority Mail Express', description: 'Next Day to 2 Days' },
          },
        },
        {
          from: '16505551234',
          id: 'wamid.B',
          timestamp: '1749854576',
          type: 'interactive',
          context: { from: '15550783881', id: 'wamid.A' },
          interactive: { type: 'button_reply', button_reply: { id: 'cancel-button', title: 'Cancel' } },
        },
      ]),
    );
    expect(parsed.inbound.map((m) => [m.reply_to, m.text, m.reply])).toEqual([
      [
        'wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJGMzEyNzhENTZDMzNGODlDRDgA',
        'Priority Mail Express',
        { kind: 'list_reply', payload: 'priority_express', title: 'Priority Mail Express', description: 'Next Day to 2 Days' },
      ],
      ['wamid.A', 'Cancel', { kind: 'button_reply', payload: 'cancel-button', title: 'Cancel' }],
    ]);
  });

  it('keeps the statuses of a request whose reply is malformed, and skips what is not a reply', () => {
    const body = metaChange([
      { from: '1', id: 'wamid.X', timestamp: '1', type: 'button', button: { payload: 'P' } },
      { from: '1', id: 'wamid.Y', timestamp: '1', type: 'interactive', interactive: { type: 'nfm_reply', nfm_reply: {} } },
      { from: '1', id: 'wamid.Z', timestamp: '1', type: 'image', image: { id: '1' } },
    ]) as { entry: { changes: { value: Record<string, unknown> }[] }[] };
    const value = body.entry[0]?.changes[0]?.value as Record<string, unknown>;
    value.statuses = [{ id: 'wamid.S', status: 'read', timestamp: '1' }];
    const parsed = parseMetaWebhook(body);
    expect(parsed.inbound).toEqual([]);
    expect(parsed.statuses).toHaveLength(1);
  });
});

describe('Twilio replies', () => {
  const webhooks = new TwilioWebhooks('token');
  const parse = (form: Record<string, string>) =>
    webhooks.parseWebhook({
      rawBody: Buffer.from(new URLSearchParams(form).toString()),
      url: 'https://h.example/api/v1/twilio/status',
      headers: {},
    });

  it('reads a quick-reply tap: ButtonPayload, ButtonText and OriginalRepliedMessageSid', () => {
    // The parameters of a real WhatsApp quick-reply webhook, shortened.
    const parsed = parse({
      SmsStatus: 'received',
      MessageSid: 'SM8824d91645395b17594d92659b878468',
      MessageType: 'button',
      From: 'whatsapp:+6285176810035',
      To: 'whatsapp:+14155238886',
      Body: 'Konfirmasi',
      ButtonText: 'Konfirmasi',
      ButtonPayload: 'confirm_order',
      OriginalRepliedMessageSid: 'MM5cc44eecf7dab0d48d4529d0fa4af44d',
    });
    expect(parsed.inbound).toEqual([
      {
        from: '+6285176810035',
        text: 'Konfirmasi',
        at: expect.any(String),
        provider_message_id: 'SM8824d91645395b17594d92659b878468',
        reply_to: 'MM5cc44eecf7dab0d48d4529d0fa4af44d',
        reply: { kind: 'quick_reply', payload: 'confirm_order', title: 'Konfirmasi' },
      },
    ]);
  });

  it('a plain incoming text is no reply', () => {
    const parsed = parse({ SmsStatus: 'received', MessageSid: 'SM1', From: 'whatsapp:+14155550100', Body: 'hello' });
    expect(parsed.inbound[0]).not.toHaveProperty('reply');
    expect(parsed.inbound[0]).not.toHaveProperty('reply_to');
  });
});
