import { describe, expect, it } from 'vitest';
import { control, send, textMessage, useHarness } from './helpers.ts';

// With the serviceWindow option, free-form messages need the recipient's 24-hour window, opened by
// an inbound message posted through /_sim/inbound, timed by the timestamp the webhook carried.
const h = useHarness({ serviceWindow: true });

const template = (to: string) => ({
  messaging_product: 'whatsapp',
  to,
  type: 'template',
  template: { name: 'delivery_reminder', language: { code: 'en_US' } },
});

describe('the 24-hour window', () => {
  it('refuses text to a number that never wrote with 131047, sends templates, and opens on an inbound message', async () => {
    const to = '+919800000001';
    const refused = await send(h.sendUrl, textMessage(to));
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe(131047);
    expect((await send(h.sendUrl, template(to))).status).toBe(200);

    expect((await control(h.sim, 'POST', '/_sim/inbound', { from: to, text: 'hi' })).status).toBe(200);
    expect((await send(h.sendUrl, textMessage(to))).status).toBe(200);
  });

  it('runs from the inbound timestamp: a message written 25 h ago opens nothing', async () => {
    const to = '+919800000002';
    const timestamp = Math.floor(Date.now() / 1000) - 25 * 3600;
    const inbound = await control(h.sim, 'POST', '/_sim/inbound', { from: to, text: 'hi', timestamp });
    expect(inbound.body.posted.entry[0].changes[0].value.messages[0].timestamp).toBe(String(timestamp));
    expect((await send(h.sendUrl, textMessage(to))).body.error.code).toBe(131047);
  });

  it('can be switched off and on; Twilio inbound takes no timestamp', async () => {
    expect((await control(h.sim, 'PUT', '/_sim/service-window', { enforce: false })).body).toEqual({ enforce: false });
    expect((await send(h.sendUrl, textMessage('+919800000003'))).status).toBe(200);
    expect((await control(h.sim, 'PUT', '/_sim/service-window', { enforce: true })).body).toEqual({ enforce: true });
    expect((await control(h.sim, 'PUT', '/_sim/service-window', { enforce: 'yes' })).status).toBe(400);
    const twilio = await control(h.sim, 'POST', '/_sim/inbound', { provider: 'twilio', from: '+919800000004', text: 'hi', timestamp: 1 });
    expect(twilio.status).toBe(400);
    expect(twilio.body.field).toBe('timestamp');
  });
});
