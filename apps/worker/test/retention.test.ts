import { createRedis, newMessageDocument, newMessageId } from '@herald/shared';
import { connectStore, type Store } from '@herald/store';
import { dropHeraldData, testConfig, uniquePhone, waitFor } from '@herald/test-utils';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Retention, startRetention } from '../src/retention.ts';

const config = testConfig({ RETENTION_DAYS: '30', RETENTION_INTERVAL_MS: '300' });
let store: Store;
let retention: Retention | undefined;
const redis = createRedis(config);

beforeAll(async () => {
  store = await connectStore({ url: config.MONGO_URL, locks: { redis, prefix: config.QUEUE_PREFIX } });
});
afterAll(async () => {
  await retention?.close();
  await store?.close();
  await redis.quit();
  await dropHeraldData(config);
});

const message = (daysAgo: number) =>
  newMessageDocument({
    _id: newMessageId(),
    tenant: 'default',
    phone: uniquePhone(),
    message_type: 'delivery_reminder',
    context: { customer_name: 'Asha' },
    status: 'delivered',
    provider: 'meta',
    created_at: new Date(Date.now() - daysAgo * 86_400_000),
  });

describe('retention', () => {
  it('the scheduled job removes messages older than RETENTION_DAYS and keeps the rest', async () => {
    const old = [message(31), message(400)];
    const recent = [message(29), message(0)];
    await store.messages.insertMany([...old, ...recent]);
    await store.statistics.idle();
    retention = await startRetention(config, redis, store, pino({ level: 'silent' }));
    // One scheduler, however many workers declare it.
    expect((await retention.queue.getJobSchedulers()).map((s) => s.key)).toEqual(['retention']);
    await waitFor(async () => (await store.messages.count({ ids: old.map((m) => m._id) })) === 0, {
      timeoutMs: 20_000,
      what: 'old messages to be removed',
    });
    expect(await store.messages.count({ ids: recent.map((m) => m._id) })).toBe(2);
    // …and takes them out of the statistics counters.
    const delivered = async (m: (typeof old)[number]) =>
      (await store.statistics.counters(m.day, m.day, 'default')).find((c) => c.message_type === 'delivery_reminder')?.by_status.delivered;
    await waitFor(async () => (await Promise.all(old.map(delivered))).every((n) => n === 0), {
      timeoutMs: 5_000,
      what: 'the removed messages to leave the counters',
    });
    for (const m of recent) expect(await delivered(m)).toBe(1);
  });
});
