import { type MessageDocument, type MessageStatus, newMessageDocument, newMessageId } from '@herald/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './stack.ts';

let stack: Stack;
const dayMs = 86_400_000;
const todayStart = new Date(`${new Date().toISOString().slice(0, 10)}T00:00:00.000Z`).getTime();
const daysAgo = (n: number) => new Date(todayStart - n * dayMs + 1000);

/** A hand-counted fixture: `count` messages of one tenant, day, type and status. */
function batch(
  count: number,
  tenant: string,
  ago: number,
  type: string,
  status: MessageStatus,
  extra: (i: number) => Partial<MessageDocument> = () => ({}),
) {
  return Array.from({ length: count }, (_, i) =>
    newMessageDocument({
      _id: newMessageId(),
      tenant,
      phone: '+919876543210',
      message_type: type,
      context: {},
      status,
      provider: 'meta',
      created_at: daysAgo(ago),
      ...extra(i),
    }),
  );
}

// queued→sent spans of the 180 sent/delivered/read messages of acme today:
// 100 × 50 ms (bucket 100), 70 × 400 ms (bucket 500), 10 × 2,000 ms (bucket 2500).
const queuedToSent = (i: number) => {
  const ms = i < 100 ? 50 : i < 170 ? 400 : 2000;
  return { queued_to_sent_ms: ms, queued_to_sent_bucket: ms === 50 ? 100 : ms === 400 ? 500 : 2500 };
};
// sent→delivered of its 140 delivered/read ones: 132 × 1,000 ms and 8 beyond the last edge.
const sentToDelivered = (i: number) =>
  i < 132 ? { sent_to_delivered_ms: 1000, sent_to_delivered_bucket: 1000 } : { sent_to_delivered_ms: 100_000_000 };

beforeAll(async () => {
  stack = await startStack({ worker: false });
  const sentLike = [
    ...batch(40, 'acme', 0, 'delivery_reminder', 'sent'),
    ...batch(60, 'acme', 0, 'delivery_reminder', 'delivered'),
    ...batch(80, 'acme', 0, 'delivery_reminder', 'read'),
  ].map((d, i) => ({ ...d, ...queuedToSent(i), ...(i >= 40 ? sentToDelivered(i - 40) : {}) }));
  const docs = [
    ...batch(10, 'acme', 0, 'delivery_reminder', 'queued'),
    ...batch(5, 'acme', 0, 'delivery_reminder', 'scheduled'),
    ...sentLike,
    ...batch(20, 'acme', 0, 'payment_reminder', 'failed'),
    ...batch(5, 'acme', 0, 'payment_reminder', 'expired'),
    ...batch(3, 'acme', 0, 'payment_reminder', 'cancelled'),
    ...batch(7, 'acme', 0, 'payment_reminder', 'suppressed'),
    ...batch(10, 'acme', 3, 'order_confirmation', 'sent'),
    ...batch(20, 'acme', 3, 'order_confirmation', 'read'),
    ...batch(10, 'acme', 3, 'order_confirmation', 'failed'),
    ...batch(50, 'acme', 40, 'delivery_reminder', 'read'),
    ...batch(15, 'globex', 0, 'churn_risk', 'read'),
  ];
  expect(docs).toHaveLength(335);
  await stack.store.messages.insertMany(docs);
  // Written straight to the database, past the writes that keep the counters: the repair path
  // (`pnpm stats:rebuild`) counts them. statistics-counters.test.ts covers the live path.
  await stack.store.statistics.rebuild();
});
afterAll(() => stack?.close());

/** `tenant: null` mints a token without a tenant claim. */
async function stats(query: string, role: 'viewer' | 'admin' = 'viewer', tenant: string | null = 'acme') {
  const res = await stack.api.inject({
    method: 'GET',
    url: `/api/notifications/statistics${query}`,
    headers: { authorization: `Bearer ${stack.token(role, tenant ?? undefined)}` },
  });
  return { status: res.statusCode, body: res.json() };
}

describe('statistics', () => {
  it('counts, rates and latencies of one tenant over 30 days match the hand count', async () => {
    const { status, body } = await stats('');
    expect(status).toBe(200);
    expect(body.days).toBe(30);
    expect(body.to).toBe(new Date().toISOString().slice(0, 10));
    expect(body.total).toBe(270);
    expect(body.by_status).toEqual({
      scheduled: 5,
      queued: 10,
      sending: 0,
      sent: 50,
      delivered: 60,
      read: 100,
      failed: 30,
      cancelled: 3,
      suppressed: 7,
      expired: 5,
    });
    expect(body.rates.success).toBeCloseTo(210 / 245, 10);
    expect(body.rates.delivery).toBeCloseTo(160 / 210, 10);
    expect(body.rates.read).toBeCloseTo(100 / 160, 10);
    expect(body.latency_ms.queued_to_sent.mean).toBeCloseTo(53_000 / 180, 6);
    expect(body.latency_ms.queued_to_sent.p95).toBe(2500);
    expect(body.latency_ms.sent_to_delivered.mean).toBeCloseTo((132 * 1000 + 8 * 100_000_000) / 140, 4);
    expect(body.latency_ms.sent_to_delivered.p95).toBeNull(); // the 95th percentile lies beyond the last edge

    const byType = Object.fromEntries(body.by_type.map((t: { message_type: string; total: number }) => [t.message_type, t.total]));
    expect(byType).toEqual({ delivery_reminder: 195, order_confirmation: 40, payment_reminder: 35 });
    expect(body.by_day).toHaveLength(30);
    const byDay = Object.fromEntries(body.by_day.map((d: { day: string; total: number }) => [d.day, d.total]));
    expect(byDay[daysAgo(0).toISOString().slice(0, 10)]).toBe(230);
    expect(byDay[daysAgo(3).toISOString().slice(0, 10)]).toBe(40);
    expect(body.by_day.reduce((n: number, d: { total: number }) => n + d.total, 0)).toBe(270);
    expect(body.by_day.find((d: { day: string }) => d.day === daysAgo(3).toISOString().slice(0, 10)).by_status).toMatchObject({
      sent: 10,
      read: 20,
      failed: 10,
    });
    expect(body.queue).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0 });
  });

  it('the window follows days, and an admin without a tenant sees every tenant (or filters one)', async () => {
    expect((await stats('?days=1')).body.total).toBe(230);
    expect((await stats('?days=60')).body.total).toBe(320);
    const all = await stats('', 'admin', null);
    expect(all.body.total).toBe(285);
    expect(all.body.by_status.read).toBe(115);
    expect(all.body.rates.read).toBeCloseTo(115 / 175, 10);
    expect((await stats('?tenant=globex', 'admin', null)).body.total).toBe(15);
    expect((await stats('', 'viewer', 'globex')).body.total).toBe(15);
    expect((await stats('', 'viewer', 'nobody')).body).toMatchObject({
      total: 0,
      rates: { success: null, delivery: null, read: null },
      latency_ms: { queued_to_sent: { mean: null, p95: null } },
    });
  });

  it('refuses a bad window', async () => {
    expect((await stats('?days=0')).status).toBe(400);
    expect((await stats('?days=367')).status).toBe(400);
  });
});
