import { createHmac } from 'node:crypto';
import { fastifyOptions, app as heraldApi, mintToken } from '@herald/api';
import { createQueues, createRedis, type Queues } from '@herald/shared';
import { connectStore, type Store } from '@herald/store';
import { dropHeraldData, testConfig, testSecrets, uniquePhone } from '@herald/test-utils';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Two API instances on one configuration: the rate limits must hold across both.
const config = testConfig({ RATE_LIMIT_IP_MAX: '5', RATE_LIMIT_TOKEN_MAX: '8', RATE_LIMIT_WEBHOOK_MAX: '1000' });
let a: FastifyInstance;
let b: FastifyInstance;
let store: Store;
const redis = createRedis(config);
const queues: Queues = createQueues(redis, config.QUEUE_PREFIX);

beforeAll(async () => {
  a = Fastify({ ...fastifyOptions, logger: false });
  b = Fastify({ ...fastifyOptions, logger: false });
  await a.register(heraldApi, { config });
  await b.register(heraldApi, { config });
  await Promise.all([a.ready(), b.ready()]);
  store = await connectStore({ url: config.MONGO_URL, locks: { redis, prefix: config.QUEUE_PREFIX } });
}, 120_000);
afterAll(async () => {
  await a?.close();
  await b?.close();
  await store?.close();
  await Promise.all(Object.values(queues).map((q) => q.close()));
  await redis.quit();
  await dropHeraldData(config);
}, 60_000);

let subCounter = 0;
const token = (role: 'admin' | 'service' | 'viewer', tenant?: string) =>
  mintToken(config.JWT_SECRET as string, { sub: `limits-${role}-${subCounter++}`, role, tenant }, 600_000);
let ipCounter = 1;
const freshIp = () => `10.0.${Math.floor(ipCounter / 250)}.${(ipCounter++ % 250) + 1}`;

describe('rate limits (Redis-backed, shared by API instances)', () => {
  it('per IP without a token: over the limit is 429 rate_limited with Retry-After, counted across instances', async () => {
    const ip = freshIp();
    const statuses: number[] = [];
    let last: Awaited<ReturnType<FastifyInstance['inject']>> | undefined;
    for (let i = 0; i < 6; i++) {
      last = await (i % 2 ? a : b).inject({ method: 'GET', url: '/api/notifications/history', remoteAddress: ip });
      statuses.push(last.statusCode);
    }
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses[5]).toBe(429);
    expect(last?.json()).toMatchObject({ error: 'rate_limited', message: expect.stringMatching(/rate limit of 5 requests/) });
    expect(Number(last?.headers['retry-after'])).toBeGreaterThan(0);
    // Another IP is not affected.
    expect((await a.inject({ method: 'GET', url: '/api/notifications/history', remoteAddress: freshIp() })).statusCode).toBe(401);
  });

  it('per token: one token is limited wherever it comes from; garbage tokens count against the IP', async () => {
    const t = token('viewer');
    const statuses: number[] = [];
    for (let i = 0; i < 9; i++) {
      const res = await (i % 2 ? a : b).inject({
        method: 'GET',
        url: '/api/notifications/history',
        headers: { authorization: `Bearer ${t}` },
        remoteAddress: freshIp(),
      });
      statuses.push(res.statusCode);
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(8);
    expect(statuses[8]).toBe(429);
    // Another token of the same IP still works.
    expect(
      (await a.inject({ method: 'GET', url: '/api/notifications/history', headers: { authorization: `Bearer ${token('viewer')}` } }))
        .statusCode,
    ).toBe(200);
    const ip = freshIp();
    const garbage: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await a.inject({
        method: 'GET',
        url: '/api/notifications/history',
        headers: { authorization: `Bearer junk.${i}.x` },
        remoteAddress: ip,
      });
      garbage.push(res.statusCode);
    }
    expect(garbage[5]).toBe(429);
  });

  it('health is never limited', async () => {
    const ip = freshIp();
    for (let i = 0; i < 8; i++) {
      expect((await a.inject({ method: 'GET', url: '/api/notifications/health', remoteAddress: ip })).statusCode).toBe(200);
    }
  });
});

describe('body and context limits', () => {
  const sendAs = (payload: unknown, headers: Record<string, string> = {}) =>
    a.inject({
      method: 'POST',
      url: '/api/notifications/send-message',
      headers: { authorization: `Bearer ${token('service')}`, 'content-type': 'application/json', ...headers },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });

  it('a send-message body over 256 KiB is 413 payload_too_large, nothing written', async () => {
    const phone = uniquePhone();
    const res = await sendAs({ phone, message_type: 'delivery_reminder', context: { pad: 'x'.repeat(300_000) } });
    expect(res.statusCode).toBe(413);
    expect(res.json().error).toBe('payload_too_large');
    expect(await store.messages.count({ phone })).toBe(0);
  });

  it.each([
    ['a value over 1,024 characters', { customer_name: 'x'.repeat(1025), delivery_date: 'd' }, 'context.customer_name'],
    ['a NUL in a value', { customer_name: 'a\u0000b', delivery_date: 'd' }, 'context.customer_name'],
    ['a key that is not an identifier', { 'bad-key': 'x', customer_name: 'a', delivery_date: 'd' }, 'context'],
    ['a nested object', { customer_name: { first: 'a' }, delivery_date: 'd' }, 'context.customer_name'],
  ])('context with %s is 400 naming it, and nothing is written or queued', async (_what, context, path) => {
    const phone = uniquePhone();
    const before = await queues.send.getJobCountByTypes('waiting', 'delayed', 'prioritized');
    const res = await sendAs({ phone, message_type: 'delivery_reminder', context, immediate: false });
    expect(res.statusCode).toBe(400);
    expect(JSON.stringify(res.json().issues)).toContain(path);
    expect(await store.messages.count({ phone })).toBe(0);
    expect(await queues.send.getJobCountByTypes('waiting', 'delayed', 'prioritized')).toBe(before);
  });

  it('a signed Meta webhook batch of 1,000 status updates fits; 6 MB does not (413)', async () => {
    const statuses = Array.from({ length: 1000 }, (_, i) => ({
      id: `wamid.HBgMOTE5ODc2NTQzMjEwFQIAERgSN0Q0RUE2RTM5MkQ0QzQ3${String(i).padStart(6, '0')}`,
      status: 'delivered',
      timestamp: '1767225600',
      recipient_id: '919876543210',
      conversation: { id: 'c0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5', origin: { type: 'utility' } },
      pricing: { billable: true, pricing_model: 'PMP', category: 'utility' },
    }));
    const raw = JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: '1',
          changes: [
            {
              field: 'messages',
              value: {
                messaging_product: 'whatsapp',
                metadata: { display_phone_number: '1', phone_number_id: testSecrets.META_PHONE_NUMBER_ID },
                statuses,
              },
            },
          ],
        },
      ],
    });
    const sign = (body: string) => `sha256=${createHmac('sha256', testSecrets.META_APP_SECRET).update(body).digest('hex')}`;
    const ok = await a.inject({
      method: 'POST',
      url: '/api/v1/whatsapp/webhook',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': sign(raw) },
      payload: raw,
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ received: 1000 });
    const huge = JSON.stringify({ object: 'x', pad: 'x'.repeat(6 * 1024 * 1024) });
    const tooBig = await a.inject({
      method: 'POST',
      url: '/api/v1/whatsapp/webhook',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': sign(huge) },
      payload: huge,
    });
    expect(tooBig.statusCode).toBe(413);
  });
});

describe('security headers', () => {
  it.each(['/docs', '/docs/json', '/api/notifications/health', '/api/notifications/history', '/nope'])(
    '%s carries CSP, nosniff, frame and referrer headers',
    async (url) => {
      const res = await a.inject({ method: 'GET', url, remoteAddress: freshIp() });
      expect(res.headers['content-security-policy']).toContain("default-src 'self'");
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(res.headers['content-security-policy']).not.toContain('upgrade-insecure-requests');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['referrer-policy']).toBe('same-origin');
      expect(res.headers['strict-transport-security']).toContain('max-age=');
    },
  );
});

describe('erasure', () => {
  const erase = (phone: string, t = token('admin')) =>
    a.inject({ method: 'DELETE', url: `/api/v1/admin/people/${encodeURIComponent(phone)}`, headers: { authorization: `Bearer ${t}` } });

  it('removes or anonymises everything about one phone and reports counts; others are untouched', async () => {
    const phone = uniquePhone();
    const other = uniquePhone();
    const ids: string[] = [];
    for (const p of [phone, phone, other]) {
      const res = await a.inject({
        method: 'POST',
        url: '/api/notifications/send-message',
        headers: { authorization: `Bearer ${token('service')}` },
        payload: {
          phone: p,
          message_type: 'delivery_reminder',
          context: { customer_name: 'Asha Secret', delivery_date: '2026-02-01' },
          reference_id: 'order_9',
          immediate: false,
        },
      });
      expect(res.statusCode).toBe(202);
      ids.push(res.json().id);
    }
    await store.settings.update(phone, { disabled_types: ['new_product'] }, 'test');

    expect((await erase(phone, token('admin', 'acme'))).statusCode).toBe(403);
    expect((await erase(phone, token('service'))).statusCode).toBe(403);
    expect((await erase('not-a-phone')).json()).toMatchObject({ error: 'bad_request', issues: [{ path: 'phone' }] });

    const res = await erase(phone);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ messages_anonymised: 2, jobs_removed: 2, settings_removed: 1 });
    expect(res.json().phone_redacted).not.toContain(phone.slice(3, -4));
    expect(await store.messages.count({ phone })).toBe(0);
    for (const id of ids.slice(0, 2)) {
      const doc = await store.messages.get(id);
      expect(doc).toMatchObject({ phone: 'erased', context: {}, reference_id: null, message_text: null, status: 'cancelled' });
      expect(JSON.stringify(doc)).not.toContain('Asha Secret');
      expect(await queues.send.getJob(id)).toBeUndefined();
      expect(await queues.accept.getJob(id)).toBeUndefined();
    }
    expect(await store.settings.get(phone)).toBeNull();
    // The other person keeps everything.
    // (No worker runs here: its message is still on its way to history, in its accept job.)
    const kept = await a.inject({
      method: 'GET',
      url: `/api/notifications/messages/${ids[2]}`,
      headers: { authorization: `Bearer ${token('admin')}` },
    });
    expect(kept.json()).toMatchObject({ phone: other, reference_id: 'order_9', status: 'queued' });
    expect(await queues.accept.getJob(ids[2] as string)).toBeTruthy();
    // A second erasure finds nothing left.
    expect((await erase(phone)).json()).toMatchObject({ messages_anonymised: 0, jobs_removed: 0, settings_removed: 0 });
  });
});
