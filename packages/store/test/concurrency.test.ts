import { dayKey } from '@herald/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectStore, type Store, statsDeltas } from '../src/index.ts';
import { message, openStore } from './helpers.ts';

// What only concurrency shows, under the profile this server needs (detected, as in production):
// several processes writing the same documents at once lose nothing.

describe('statistics counter deltas', () => {
  const queued = { tenant: 'acme', day: '2026-11-23', message_type: 'delivery_reminder', status: 'queued' as const };
  it('a change moves one count between statuses and replaces a latency; nothing is written for no change', () => {
    const sent = { ...queued, status: 'sent' as const, queued_to_sent_ms: 420, queued_to_sent_bucket: 500 };
    expect([...statsDeltas([{ before: queued, after: sent }]).values()]).toEqual([
      {
        key: { tenant: 'acme', day: '2026-11-23', message_type: 'delivery_reminder', sender: 'env' },
        inc: {
          'by_status.queued': -1,
          'by_status.sent': 1,
          'queued_to_sent.n': 1,
          'queued_to_sent.sum_ms': 420,
          'queued_to_sent.buckets.b500': 1,
        },
      },
    ]);
    const again = { ...sent, queued_to_sent_ms: 90_000_000, queued_to_sent_bucket: undefined };
    expect(statsDeltas([{ before: sent, after: again }]).get('2026-11-23|acme|delivery_reminder')?.inc).toEqual({
      'queued_to_sent.sum_ms': 90_000_000 - 420,
      'queued_to_sent.buckets.b500': -1,
      'queued_to_sent.buckets.over': 1,
    });
    expect(statsDeltas([{ before: sent, after: sent }]).size).toBe(0);
    expect(statsDeltas([{ after: queued }, { before: queued }]).size).toBe(0);
    // A message of a stored sender counts in that sender's own counter document; the deployment's
    // keeps the ids counters had before senders existed.
    const ofSender = statsDeltas([{ after: { ...queued, sender: 'snd_1' } }, { after: queued }]);
    expect([...ofSender.keys()]).toEqual(['2026-11-23|acme|delivery_reminder|snd_1', '2026-11-23|acme|delivery_reminder']);
  });
});

describe('two processes writing at once', { timeout: 120_000 }, () => {
  let a: Awaited<ReturnType<typeof openStore>>;
  let b: Store;
  beforeAll(async () => {
    a = await openStore();
    // A second process: its own client, the same database and the same lock prefix.
    b = await connectStore({ url: a.url, locks: a.locks });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('count into one counter without losing an increment (FerretDB loses 138 of 240 without the profile lock)', async () => {
    const today = dayKey(new Date());
    // Each insert in its own turn of the event loop, so no write round folds two together.
    const insertAll = async (store: Store, n: number) => {
      for (let i = 0; i < n; i++) await store.messages.insertMany([message({ tenant: 'counted' })]);
    };
    await Promise.all([insertAll(a.store, 60), insertAll(b, 60), insertAll(a.store, 60), insertAll(b, 60)]);
    await Promise.all([a.store.statistics.idle(), b.statistics.idle()]);
    expect((await a.store.statistics.summarise({ from: today, to: today, tenant: 'counted' })).by_status.queued).toBe(240);
  });

  it('apply delivered and read for the same messages at the same moment: every message ends read with both events', async () => {
    const docs = Array.from({ length: 20 }, () => message({ tenant: 'raced' }));
    await a.store.messages.insertMany(docs);
    const sentAt = new Date(Date.now() - 5000);
    const ids = docs.map((d, i) => ({ id: d._id, pid: `wamid.race-${i}-${d._id}` }));
    for (const { id, pid } of ids) {
      await a.store.messages.recordSent(
        id,
        { at: sentAt, queued_at: sentAt, provider: 'meta', provider_message_id: pid, message_text: 't', template_version: 1, attempt: 1 },
        'accepted',
      );
    }
    const at = (s: number) => new Date(sentAt.getTime() + s * 1000).toISOString();
    await Promise.all(
      ids.flatMap(({ pid }) => [
        a.store.messages.applyStatusEvents([{ provider_message_id: pid, status: 'delivered', at: at(1) }]),
        b.messages.applyStatusEvents([{ provider_message_id: pid, status: 'read', at: at(2) }]),
      ]),
    );
    for (const { id } of ids) {
      const doc = await a.store.messages.get(id);
      expect(doc?.status, id).toBe('read');
      expect(doc?.event_keys.sort(), id).toEqual([`delivered:${at(1)}`, `read:${at(2)}`].sort());
    }
    await Promise.all([a.store.statistics.idle(), b.statistics.idle()]);
    const today = dayKey(new Date());
    expect((await a.store.statistics.summarise({ from: today, to: today, tenant: 'raced' })).by_status).toMatchObject({
      read: 20,
      delivered: 0,
      sent: 0,
    });
  });
});
