import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collections, connectMongo, newMessageDocument, newMessageId, prepareDatabase, type StatsView, statsDeltas } from '../src/index.ts';

const MONGO_URL = `${process.env.TEST_MONGO_URL ?? 'mongodb://127.0.0.1:27017'}/herald_test_stats_${randomUUID().slice(0, 8)}?maxPoolSize=6`;
let client: MongoClient;
let other: MongoClient;
const redis = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379', { lazyConnect: true });

beforeAll(async () => {
  client = await connectMongo(MONGO_URL);
  other = await connectMongo(MONGO_URL);
});
afterAll(async () => {
  await client?.db().dropDatabase();
  await client?.close();
  await other?.close();
  redis.disconnect();
});

const queued: StatsView = { tenant: 'acme', day: '2026-11-23', message_type: 'delivery_reminder', status: 'queued' };

describe('statistics counter deltas', () => {
  it('a change moves one count between statuses and replaces a latency; nothing is written for no change', () => {
    const sent = { ...queued, status: 'sent' as const, queued_to_sent_ms: 420, queued_to_sent_bucket: 500 };
    expect([...statsDeltas([{ before: queued, after: sent }]).values()]).toEqual([
      {
        key: { tenant: 'acme', day: '2026-11-23', message_type: 'delivery_reminder' },
        inc: {
          'by_status.queued': -1,
          'by_status.sent': 1,
          'queued_to_sent.n': 1,
          'queued_to_sent.sum_ms': 420,
          'queued_to_sent.buckets.b500': 1,
        },
      },
    ]);
    // A resent message sent again: the old span leaves, the new one (beyond the last edge) comes.
    const again = { ...sent, queued_to_sent_ms: 90_000_000, queued_to_sent_bucket: undefined };
    expect(statsDeltas([{ before: sent, after: again }]).get('2026-11-23|acme|delivery_reminder')?.inc).toEqual({
      'queued_to_sent.sum_ms': 90_000_000 - 420,
      'queued_to_sent.buckets.b500': -1,
      'queued_to_sent.buckets.over': 1,
    });
    expect(statsDeltas([{ before: sent, after: sent }]).size).toBe(0);
    // Created and removed in one batch: nothing to write.
    expect(statsDeltas([{ after: queued }, { before: queued }]).size).toBe(0);
  });

  it('two processes counting into one counter at once lose nothing (Redis lock; FerretDB updates are not atomic)', async () => {
    await redis.connect();
    const prefix = `{herald-test-stats-${randomUUID().slice(0, 8)}}`;
    const a = collections(client.db()).stats.serializeWith(redis, prefix);
    const b = collections(other.db()).stats.serializeWith(redis, prefix);
    // Each change alone, in its own turn of the event loop, so no batch folds them together.
    const count = async (stats: typeof a, n: number) => {
      for (let i = 0; i < n; i++) await stats.record({ after: queued });
    };
    await Promise.all([count(a, 60), count(b, 60), count(a, 60), count(b, 60)]);
    const doc = await collections(client.db()).dailyStats.findOne({ _id: '2026-11-23|acme|delivery_reminder' });
    expect(doc?.by_status.queued).toBe(240);
  });

  it('a database with messages from before the counters gets them built at start, without holding the start up', async () => {
    const db = collections(client.db(`${client.db().databaseName}_old`));
    try {
      const old = Array.from({ length: 3 }, () =>
        newMessageDocument({
          _id: newMessageId(),
          tenant: 'acme',
          phone: '+919876543210',
          message_type: 'payment_reminder',
          context: {},
          status: 'read',
          provider: 'meta',
          created_at: new Date('2026-11-20T10:00:00Z'),
        }),
      );
      await db.messages.insertMany(old);
      await prepareDatabase(db);
      let counted: number | undefined;
      for (let i = 0; i < 100 && counted !== 3; i++) {
        counted = (await db.dailyStats.findOne({ _id: '2026-11-20|acme|payment_reminder' }))?.by_status.read;
        if (counted !== 3) await new Promise((r) => setTimeout(r, 100));
      }
      expect(counted).toBe(3);
      expect(await db.dailyStats.findOne({ _id: '_built' })).not.toBeNull();
    } finally {
      await db.db.dropDatabase();
    }
  });
});
