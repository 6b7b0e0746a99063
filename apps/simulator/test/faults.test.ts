import got from 'got';
import { describe, expect, it } from 'vitest';
import { ACCESS_TOKEN, control, type Json, send, setFaults, sleep, statusOf, textMessage, useHarness, waitFor } from './helpers.ts';

const h = useHarness();

describe('scripted faults', () => {
  it('consumes entries in order, one per request; an entry with `to` waits for that number', async () => {
    await setFaults(h.sim, {
      script: [{ code: 131000 }, { http_429: true, retry_after_s: 2 }, { code: 131026, to: '+911111111111' }, { code: 131047 }],
    });
    const other = '+912222222222';

    const first = await send(h.sendUrl, textMessage(other));
    expect(first.status).toBe(500);
    expect(first.body.error.code).toBe(131000);

    const second = await send(h.sendUrl, textMessage(other));
    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after')).toBe('2');
    expect(second.body.error.code).toBe(130429);

    const third = await send(h.sendUrl, textMessage(other));
    expect(third.status).toBe(400);
    expect(third.body.error.code).toBe(131047);

    expect((await send(h.sendUrl, textMessage(other))).status).toBe(200);

    const left = await control(h.sim, 'GET', '/_sim/faults');
    expect(left.body.script).toEqual([{ code: 131026, to: '+911111111111' }]);

    // Matched on digits, so Meta's `to` with or without `+` both count.
    const targeted = await send(h.sendUrl, textMessage('911111111111'));
    expect(targeted.status).toBe(400);
    expect(targeted.body.error.code).toBe(131026);
    expect((await send(h.sendUrl, textMessage('+911111111111'))).status).toBe(200);

    const records = await control(h.sim, 'GET', '/_sim/messages');
    expect(records.body.requests.map((request: Json) => request.outcome)).toEqual([
      'error:131000',
      '429',
      'error:131047',
      'accepted',
      'error:131026',
      'accepted',
    ]);
    expect(records.body.messages).toHaveLength(2);
  });

  it('answers each code with the HTTP status of PROVIDERS.md', async () => {
    const expected: Array<[number, number]> = [
      [131000, 500],
      [131016, 503],
      [130429, 400],
      [131056, 400],
      [131026, 400],
      [131047, 400],
      [190, 401],
      [10, 403],
      [132001, 404],
    ];
    await setFaults(h.sim, { script: expected.map(([code]) => ({ code })) });
    for (const [code, http] of expected) {
      const response = await send(h.sendUrl, textMessage('+919876543210'));
      expect({ code: response.body.error.code, http: response.status }).toEqual({ code, http });
      expect(response.body.error.message).toMatch(new RegExp(`^\\(#${code}\\) \\S`));
      expect(response.body.error.type).toBe('OAuthException');
      expect(response.body.error.error_data.messaging_product).toBe('whatsapp');
      // Meta's throttling codes come without Retry-After.
      expect(response.headers.get('retry-after')).toBeNull();
    }
  });

  it('adds a scripted entry’s latency to that request only', async () => {
    await setFaults(h.sim, { script: [{ latency_ms: 600 }] });
    let started = Date.now();
    expect((await send(h.sendUrl, textMessage('+919876543210'))).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(590);
    started = Date.now();
    await send(h.sendUrl, textMessage('+919876543210'));
    expect(Date.now() - started).toBeLessThan(450);
  });
});

describe('random faults', () => {
  it('honours error_rates roughly, and counts errors by code', async () => {
    await setFaults(h.sim, { error_rates: { '131000': 0.3, '131026': 0.1 } });
    const total = 600;
    const statuses: number[] = [];
    for (let batch = 0; batch < total / 50; batch++) {
      const answers = await Promise.all(Array.from({ length: 50 }, () => send(h.sendUrl, textMessage('+919876543210'))));
      for (const answer of answers) statuses.push(answer.status === 200 ? 200 : answer.body.error.code);
    }
    const share = (value: number) => statuses.filter((status) => status === value).length / total;
    expect(share(131000)).toBeGreaterThan(0.22);
    expect(share(131000)).toBeLessThan(0.38);
    expect(share(131026)).toBeGreaterThan(0.05);
    expect(share(131026)).toBeLessThan(0.16);
    const stats = await control(h.sim, 'GET', '/_sim/stats');
    expect(stats.body.requests).toBe(total);
    expect(stats.body.errors['131000']).toBe(statuses.filter((status) => status === 131000).length);
    expect(stats.body.accepted).toBe(statuses.filter((status) => status === 200).length);
  });

  it('answers a bare HTTP 429 with Retry-After when rate_429 is 1', async () => {
    await setFaults(h.sim, { rate_429: 1, retry_after_s: 3 });
    const response = await send(h.sendUrl, textMessage('+919876543210'));
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('3');
    expect(response.body.error.code).toBe(130429);
    const stats = await control(h.sim, 'GET', '/_sim/stats');
    expect(stats.body).toMatchObject({ requests: 1, accepted: 0, http_429: 1 });
  });

  it('adds latency_ms to every send', async () => {
    await setFaults(h.sim, { latency_ms: 250 });
    const started = Date.now();
    await Promise.all([send(h.sendUrl, textMessage('+919876543210')), send(h.sendUrl, textMessage('+919876543211'))]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(245);
  });

  it('timeout: the client times out, yet the message is recorded and its webhooks sent', async () => {
    await setFaults(h.sim, { timeout_rate: 1 });
    const started = Date.now();
    const attempt = got.post(h.sendUrl, {
      json: textMessage('+919876543210'),
      headers: { authorization: `Bearer ${ACCESS_TOKEN}` },
      timeout: { request: 1_000 },
      retry: { limit: 0 },
    });
    await expect(attempt).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(Date.now() - started).toBeLessThan(5_000);

    const records = await control(h.sim, 'GET', '/_sim/messages');
    expect(records.body.messages).toHaveLength(1);
    expect(records.body.requests).toEqual([expect.objectContaining({ outcome: 'timeout' })]);
    const id = records.body.messages[0].id;
    await waitFor(() => h.herald.received.filter((webhook) => statusOf(webhook).id === id).length === 3, 10_000, 'webhooks');
  });

  it('timeout with webhooks.timed_out false: taken and recorded, but none of its webhooks is posted', async () => {
    await setFaults(h.sim, { script: [{ timeout: true, to: '+919876543212' }], timeout_ms: 300, webhooks: { timed_out: false } });
    expect((await send(h.sendUrl, textMessage('+919876543212'))).status).toBe(200);
    expect((await send(h.sendUrl, textMessage('+919876543213'))).status).toBe(200);
    const records = await control(h.sim, 'GET', '/_sim/messages');
    const [late, onTime] = records.body.messages as Json[];
    await waitFor(() => h.herald.received.filter((webhook) => statusOf(webhook).id === onTime.id).length === 3, 10_000, 'webhooks');
    await sleep(200);
    expect(h.herald.received.filter((webhook) => statusOf(webhook).id === late.id)).toEqual([]);
    expect(late.webhooks.every((w: Json) => w.dropped)).toBe(true);
  });

  it('echoes biz_opaque_callback_data in every status webhook of the message, as Meta does', async () => {
    const sent = await send(h.sendUrl, { ...textMessage('+919876543214'), biz_opaque_callback_data: 'msg_01HERALD' });
    expect(sent.status).toBe(200);
    const id = sent.body.messages[0].id;
    await waitFor(() => h.herald.received.filter((webhook) => statusOf(webhook).id === id).length === 3, 10_000, 'webhooks');
    const echoed = h.herald.received.filter((webhook) => statusOf(webhook).id === id).map((w) => statusOf(w).biz_opaque_callback_data);
    expect(echoed).toEqual(['msg_01HERALD', 'msg_01HERALD', 'msg_01HERALD']);
    const tooLong = await send(h.sendUrl, { ...textMessage('+919876543214'), biz_opaque_callback_data: 'x'.repeat(513) });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error.code).toBe(100);
  });

  it('down: every send to that provider or sender is answered 503 until lifted; other senders are untouched', async () => {
    await setFaults(h.sim, { down: { providers: ['meta'] } });
    const refused = await send(h.sendUrl, textMessage('+919876543215'));
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe(131016);
    await setFaults(h.sim, { down: { senders: ['999999999999999'] } });
    expect((await send(h.sendUrl, textMessage('+919876543215'))).status).toBe(200);
    await setFaults(h.sim, {});
    expect((await send(h.sendUrl, textMessage('+919876543215'))).status).toBe(200);
    const records = await control(h.sim, 'GET', '/_sim/messages');
    expect(records.body.requests.map((r: Json) => r.outcome)).toEqual(['down', 'accepted', 'accepted']);
  });

  it('a scripted timeout applies to one request only', async () => {
    await setFaults(h.sim, { script: [{ timeout: true }], timeout_ms: 600 });
    const started = Date.now();
    expect((await send(h.sendUrl, textMessage('+919876543210'))).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(590);
    const next = Date.now();
    await send(h.sendUrl, textMessage('+919876543210'));
    expect(Date.now() - next).toBeLessThan(450);
  });
});

describe('fault configuration', () => {
  it('returns the whole configuration with defaults filled in', async () => {
    await setFaults(h.sim, { latency_ms: 5 });
    const faults = await control(h.sim, 'GET', '/_sim/faults');
    expect(faults.body).toEqual({
      script: [],
      error_rates: {},
      rate_429: 0,
      retry_after_s: 1,
      latency_ms: 5,
      timeout_rate: 0,
      timeout_ms: 30_000,
      webhooks: { drop_rate: 0, duplicate_rate: 0, reorder: false, timed_out: true, statuses: ['sent', 'delivered', 'read'] },
      down: { providers: [], senders: [] },
    });
  });

  it('replaces the configuration as a whole', async () => {
    await setFaults(h.sim, { latency_ms: 5, rate_429: 0.5 });
    await setFaults(h.sim, { timeout_rate: 0.1 });
    const faults = await control(h.sim, 'GET', '/_sim/faults');
    expect(faults.body).toMatchObject({ latency_ms: 0, rate_429: 0, timeout_rate: 0.1 });
  });

  const invalid: Array<[string, unknown, string]> = [
    ['a rate above 1', { error_rates: { '131000': 1.5 } }, 'error_rates.131000'],
    ['an unknown code', { script: [{ code: 999 }] }, 'script[0].code'],
    ['an unknown status', { webhooks: { statuses: ['sent', 'bounced'] } }, 'webhooks.statuses[1]'],
    ['a misspelt key', { latency: 10 }, 'latency'],
    ['an unknown provider down', { down: { providers: ['sms'] } }, 'down.providers[0]'],
    ['rates adding up past 1', { error_rates: { '131000': 0.6 }, rate_429: 0.6 }, 'error_rates'],
    ['two outcomes in one entry', { script: [{ code: 131000, timeout: true }] }, 'script[0]'],
  ];
  for (const [name, faults, field] of invalid) {
    it(`rejects ${name} with 400 naming ${field}, keeping the old configuration`, async () => {
      await setFaults(h.sim, { latency_ms: 7 });
      const answer = await control(h.sim, 'PUT', '/_sim/faults', faults);
      expect(answer.status).toBe(400);
      expect(answer.body.field).toBe(field);
      expect(answer.body.message).toContain(field);
      expect((await control(h.sim, 'GET', '/_sim/faults')).body.latency_ms).toBe(7);
    });
  }
});

describe('reset', () => {
  it('clears faults, records, counters and cancels pending webhooks', async () => {
    await setFaults(h.sim, { latency_ms: 1, webhooks: { delays_ms: { sent: 300, delivered: 300, read: 300 } } });
    expect((await send(h.sendUrl, textMessage('+919876543210'))).status).toBe(200);

    expect((await control(h.sim, 'POST', '/_sim/reset')).status).toBe(200);
    await sleep(500);
    expect(h.herald.received).toHaveLength(0);
    expect((await control(h.sim, 'GET', '/_sim/messages')).body).toEqual({ messages: [], requests: [] });
    const stats = await control(h.sim, 'GET', '/_sim/stats');
    expect(stats.body).toMatchObject({ requests: 0, accepted: 0, errors: {} });
    const faults = (await control(h.sim, 'GET', '/_sim/faults')).body;
    expect(faults.latency_ms).toBe(0);
    expect(faults.webhooks.delays_ms).toBeUndefined();
  });
});
