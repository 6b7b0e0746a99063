import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reminder, send } from './helpers.ts';
import { type Stack, startStack, uniquePhone } from './stack.ts';

let stack: Stack;
const phone = uniquePhone();
const ids: string[] = [];

beforeAll(async () => {
  stack = await startStack({ worker: false });
  for (let i = 0; i < 5; i++) {
    const res = await send(stack, reminder(phone, { immediate: false, reference_id: `ref_${i % 2}` }), { tenant: 'acme' });
    ids.push(res.body.id);
  }
  await send(stack, reminder(uniquePhone(), { immediate: false }), { tenant: 'globex' });
});
afterAll(() => stack?.close());

/** `tenant: null` mints a token without a tenant claim. */
async function history(url: string, role: 'viewer' | 'admin' = 'viewer', tenant: string | null = 'acme') {
  const res = await stack.api.inject({
    method: 'GET',
    url,
    headers: { authorization: `Bearer ${stack.token(role, tenant ?? undefined)}` },
  });
  return { status: res.statusCode, body: res.json() };
}

describe('history', () => {
  it('lists the tenant’s messages newest first with a total', async () => {
    const { status, body } = await history('/api/notifications/history');
    expect(status).toBe(200);
    expect(body.total).toBe(5);
    expect(body.items.map((m: { id: string }) => m.id)).toEqual([...ids].reverse());
    expect(body).toMatchObject({ limit: 50, skip: 0, next_cursor: null });
  });

  it('filters by phone in any format, reference_id and status', async () => {
    const local = phone.replace('+91', '0');
    expect((await history(`/api/notifications/history?phone=${encodeURIComponent(local)}`)).body.total).toBe(5);
    expect((await history('/api/notifications/history?reference_id=ref_0')).body.total).toBe(3);
    expect((await history('/api/notifications/history?status=queued')).body.total).toBe(5);
    expect((await history('/api/notifications/history?status=sent')).body.total).toBe(0);
  });

  it('/history/{phone} takes +, %2B or no plus', async () => {
    for (const p of [encodeURIComponent(phone), phone.slice(1)]) {
      const { status, body } = await history(`/api/notifications/history/${p}`);
      expect(status).toBe(200);
      expect(body.total).toBe(5);
    }
    expect((await history('/api/notifications/history/12')).status).toBe(400);
  });

  it('pages with limit + skip and with a cursor', async () => {
    const first = await history('/api/notifications/history?limit=2');
    expect(first.body.items).toHaveLength(2);
    const next = await history(`/api/notifications/history?limit=2&cursor=${first.body.next_cursor}`);
    expect(next.body.items.map((m: { id: string }) => m.id)).toEqual([ids[2], ids[1]]);
    const skipped = await history('/api/notifications/history?limit=2&skip=2');
    expect(skipped.body.items).toEqual(next.body.items);
  });

  it('limit over 200 is a 400 naming limit', async () => {
    const { status, body } = await history('/api/notifications/history?limit=201');
    expect(status).toBe(400);
    expect(body.issues[0].path).toBe('limit');
  });

  it('an admin without a tenant sees all tenants and may filter by one', async () => {
    expect((await history('/api/notifications/history', 'admin', null)).body.total).toBe(6);
    expect((await history('/api/notifications/history?tenant=globex', 'admin', null)).body.total).toBe(1);
    // A tenant's token cannot widen its view with ?tenant=.
    expect((await history('/api/notifications/history?tenant=globex')).body.total).toBe(5);
  });
});

describe('health', () => {
  it('reports ok for Redis and MongoDB without a token', async () => {
    const res = await stack.api.inject({ method: 'GET', url: '/api/notifications/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ok', checks: { redis: 'ok', mongo: 'ok' } });
  });
});

describe('OpenAPI', () => {
  it('serves /docs/json generated from the schemas, with send-message in it', async () => {
    const res = await stack.api.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toMatch(/^3\./);
    const op = doc.paths['/api/notifications/send-message'].post;
    expect(op.requestBody.content['application/json'].schema.properties).toHaveProperty('message_type');
    const ui = await stack.api.inject({ method: 'GET', url: '/docs' });
    expect([200, 302]).toContain(ui.statusCode);
  });
});
