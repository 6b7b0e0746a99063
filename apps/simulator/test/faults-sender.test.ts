import { describe, expect, it } from 'vitest';
import { ACCESS_TOKEN, APP_SECRET, control, type Json, send, setFaults, textMessage, useHarness } from './helpers.ts';

// A simulator that answers for any phone_number_id (no `phoneNumberId` pinned): several Meta
// senders at once, and faults aimed at one of them.
const h = useHarness({ meta: { accessToken: ACCESS_TOKEN, appSecret: APP_SECRET } });
const urlFor = (phoneNumberId: string) => `${h.sim.url}/v24.0/${phoneNumberId}/messages`;

describe('faults scoped to a sender', () => {
  it('an entry with `sender` is taken only by requests sent as that phone_number_id; messages record their sender', async () => {
    await setFaults(h.sim, { script: [{ http_429: true, retry_after_s: 3, sender: '200000000000002' }] });

    expect((await send(urlFor('100000000000001'), textMessage('+919800000001'))).status).toBe(200);
    const throttled = await send(urlFor('200000000000002'), textMessage('+919800000002'));
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('3');
    expect((await send(urlFor('200000000000002'), textMessage('+919800000002'))).status).toBe(200);

    const records = await control(h.sim, 'GET', '/_sim/messages');
    expect(records.body.messages.map((m: Json) => [m.to, m.sender])).toEqual([
      ['+919800000001', '100000000000001'],
      ['+919800000002', '200000000000002'],
    ]);
  });

  it('refuses an empty sender, naming the field', async () => {
    const res = await control(h.sim, 'PUT', '/_sim/faults', { script: [{ http_429: true, sender: '' }] });
    expect(res.status).toBe(400);
    expect(res.body.field).toBe('script[0].sender');
  });
});
