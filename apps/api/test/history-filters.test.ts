import { newMessageDocument, newMessageId } from '@herald/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, uniquePhone } from './stack.ts';

let stack: Stack;
const phone = uniquePhone();
const dayMs = 86_400_000;
/** 60 messages of tenant acme over 12 days (5 a day), alternating types; newest first by created_at. */
const ids: string[] = [];

beforeAll(async () => {
  stack = await startStack({ worker: false });
  const now = Date.now();
  const docs = Array.from({ length: 60 }, (_, i) =>
    newMessageDocument({
      _id: newMessageId(),
      tenant: 'acme',
      phone,
      message_type: i % 2 === 0 ? 'delivery_reminder' : 'payment_reminder',
      context: {},
      status: i % 3 === 0 ? 'failed' : 'read',
      provider: 'meta',
      reference_id: `ref_${i % 4}`,
      created_at: new Date(now - Math.floor(i / 5) * dayMs - (i % 5) * 60_000 - 1000),
    }),
  );
  await stack.store.messages.insertMany(docs);
  ids.push(...docs.map((d) => d._id));
  await stack.store.messages.insert(
    newMessageDocument({
      _id: newMessageId(),
      tenant: 'globex',
      phone,
      message_type: 'churn_risk',
      context: {},
      status: 'read',
      provider: 'meta',
      created_at: new Date(now - 1000),
    }),
  );
});
afterAll(() => stack?.close());

async function history(query: string, tenant: string | null = 'acme', role: 'viewer' | 'admin' = 'viewer') {
  const res = await stack.api.inject({
    method: 'GET',
    url: `/api/notifications/history${query}`,
    headers: { authorization: `Bearer ${stack.token(role, tenant ?? undefined)}` },
  });
  return { status: res.statusCode, body: res.json() };
}

describe('history filters', () => {
  it('message_type, status and reference_id combine; days narrows the window', async () => {
    expect((await history('')).body.total).toBe(60);
    expect((await history('?message_type=delivery_reminder')).body.total).toBe(30);
    expect((await history('?message_type=delivery_reminder&status=failed')).body.total).toBe(10);
    expect((await history('?reference_id=ref_1&message_type=payment_reminder')).body.total).toBe(15);
    expect((await history('?days=1')).body.total).toBe(5);
    expect((await history('?days=3')).body.total).toBe(15);
  });

  it('from/to override days', async () => {
    const to = new Date(Date.now() - 2 * dayMs + 1).toISOString();
    const from = new Date(Date.now() - 3 * dayMs - 10 * 60_000).toISOString(); // days 2 and 3: 10 messages
    const { body } = await history(`?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&days=1`);
    expect(body.total).toBe(10);
    expect((await history(`?from=${encodeURIComponent(to)}&to=${encodeURIComponent(from)}`)).status).toBe(400);
  });

  it('the phone filter takes any format, including an unencoded +', async () => {
    for (const p of [encodeURIComponent(phone), phone, phone.slice(1), phone.replace('+91', '0')]) {
      expect((await history(`?phone=${p}`)).body.total).toBe(60);
    }
    expect((await history('?phone=12')).status).toBe(400);
  });

  it('limit + skip and the opaque cursor walk every message once, newest first', async () => {
    const page1 = await history('?limit=25');
    expect(page1.body.items).toHaveLength(25);
    const skip = await history('?limit=25&skip=25');
    expect(skip.body.items.map((m: { id: string }) => m.id)).not.toContain(page1.body.items[0].id);

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const { body } = await history(`?limit=25${cursor ? `&cursor=${cursor}` : ''}`);
      expect(body.total).toBe(60);
      seen.push(...body.items.map((m: { id: string }) => m.id));
      cursor = body.next_cursor;
      pages++;
    } while (cursor && pages < 10);
    expect(seen).toHaveLength(60);
    expect(new Set(seen).size).toBe(60);
    const created = await Promise.all(seen.map(async (id) => (await stack.store.messages.get(id))?.created_at.getTime() ?? 0));
    expect(created).toEqual([...created].sort((a, b) => b - a));
    expect((await history('?cursor=garbage')).status).toBe(400);
    expect((await history('?limit=201')).status).toBe(400);
  });

  it('an admin without a tenant sees every tenant and can filter with ?tenant=', async () => {
    expect((await history('', null, 'admin')).body.total).toBe(61);
    expect((await history('?tenant=globex', null, 'admin')).body.total).toBe(1);
    expect((await history('', 'globex')).body.total).toBe(1);
  });
});
