import { dayKey, erasedPhone, toDetail } from '@herald/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProfileName } from '../src/index.ts';
import { message, openStore, type Store, uniquePhone } from './helpers.ts';

// Every store operation under each server profile, against the server CI has (FerretDB here,
// MongoDB where one runs): a profile's code path is exercised even where its server is not.
// What only concurrency shows is in concurrency.test.ts, for the profile this server needs.

const today = dayKey(new Date());
const sentRecord = (at = new Date()) => ({
  at,
  queued_at: new Date(at.getTime() - 300),
  provider: 'meta',
  provider_message_id: `wamid.${Math.random().toString(36).slice(2)}`,
  message_text: 'Hi Asha',
  template_version: 1,
  attempt: 1,
});

describe.each(['mongodb', 'ferretdb'] as const satisfies readonly ProfileName[])('the store under the %s profile', (profile) => {
  let opened: Awaited<ReturnType<typeof openStore>>;
  let store: Store;
  beforeAll(async () => {
    opened = await openStore(profile);
    store = opened.store;
  }, 120_000);
  afterAll(() => opened?.close());

  /** This file's counts for one tenant today, by status. */
  const counts = async (tenant: string) => {
    await store.statistics.idle();
    return (await store.statistics.summarise({ from: today, to: today, tenant })).by_status;
  };

  describe('messages', () => {
    it('insert, get (scoped by tenant), count and list; each insert is counted', async () => {
      const a = message({ tenant: 't-insert' });
      const b = message({ tenant: 't-insert', status: 'scheduled' });
      await Promise.all([store.messages.insert(a), store.messages.insert(b)]);
      expect(await store.messages.get(a._id)).toMatchObject({ _id: a._id, status: 'queued', phone: a.phone });
      expect(await store.messages.get(a._id, { tenant: 't-insert' })).not.toBeNull();
      expect(await store.messages.get(a._id, { tenant: 'someone-else' })).toBeNull();
      expect(await store.messages.count({ tenant: 't-insert' })).toBe(2);
      expect(await store.messages.count({ ids: [a._id, b._id], status: 'scheduled' })).toBe(1);
      expect((await store.messages.list({ phone: a.phone })).map((m) => m._id)).toEqual([a._id]);
      expect(await counts('t-insert')).toMatchObject({ queued: 1, scheduled: 1 });
    });

    it('a new message reads back as it was given: the FerretDB profile leaves its null fields out, and every view shows them null', async () => {
      const a = message({ tenant: 't-nulls', reference_id: null, callback_url: null });
      await store.messages.insert(a);
      const read = await store.messages.get(a._id);
      expect(read && toDetail(read)).toEqual(toDetail(a));
      // What the server holds: without the null fields on FerretDB, as given on MongoDB.
      expect(read && 'failed_at' in read).toBe(profile === 'mongodb');
    });

    it('a duplicate id fails that insert only; insertMany rejects but keeps and counts the rest', async () => {
      const a = message({ tenant: 't-dup' });
      await store.messages.insert(a);
      await expect(store.messages.insert({ ...a })).rejects.toThrow();
      const b = message({ tenant: 't-dup' });
      await expect(store.messages.insertMany([{ ...a }, b])).rejects.toThrow();
      expect(await store.messages.get(b._id)).not.toBeNull();
      expect(await counts('t-dup')).toMatchObject({ queued: 2 });
    });

    it('remove takes messages back, and out of the counters', async () => {
      const docs = [message({ tenant: 't-remove' }), message({ tenant: 't-remove' })];
      await store.messages.insertMany(docs);
      expect(await store.messages.remove(docs)).toBe(2);
      expect(await store.messages.remove(docs)).toBe(0);
      expect(await store.messages.count({ tenant: 't-remove' })).toBe(0);
      expect(await counts('t-remove')).toMatchObject({ queued: 0 });
    });

    it('recordSent moves a pending message to sent once, with provider id, text and latency', async () => {
      const m = message({ tenant: 't-sent' });
      await store.messages.insert(m);
      const sent = sentRecord();
      expect(await store.messages.recordSent(m._id, sent, 'accepted')).toBe(true);
      expect(await store.messages.recordSent(m._id, sent, 'accepted')).toBe(false);
      const doc = await store.messages.get(m._id);
      expect(doc).toMatchObject({
        status: 'sent',
        provider_message_id: sent.provider_message_id,
        message_text: 'Hi Asha',
        attempts: 1,
        queued_to_sent_ms: 300,
        queued_to_sent_bucket: 500,
      });
      expect(doc?.events.at(-1)).toMatchObject({ status: 'sent', source: 'worker', attempt: 1 });
      await store.statistics.idle();
      const s = await store.statistics.summarise({ from: today, to: today, tenant: 't-sent' });
      expect(s.by_status).toMatchObject({ queued: 0, sent: 1 });
      expect(s.latency_ms.queued_to_sent).toEqual({ mean: 300, p95: 500 });
    });

    it('recordFailure keeps a retryable attempt pending and ends a final one failed; recordExpired and addEvent', async () => {
      const m = message({ tenant: 't-fail' });
      const e = message({ tenant: 't-fail' });
      await store.messages.insertMany([m, e]);
      const error = { code: '131000', message: 'Something went wrong', retryable: true };
      await store.messages.recordFailure(m._id, { at: new Date(), attempt: 1, error, final: false });
      expect(await store.messages.get(m._id)).toMatchObject({ status: 'queued', attempts: 1, error });
      await store.messages.recordFailure(m._id, { at: new Date(), attempt: 2, error, final: true });
      expect(await store.messages.get(m._id)).toMatchObject({ status: 'failed', attempts: 2 });
      expect(await store.messages.recordExpired(e._id, new Date(), 'not sent by then')).toBe(true);
      expect(await store.messages.recordExpired(e._id, new Date(), 'again')).toBe(false);
      await store.messages.addEvent(e._id, {
        status: 'throttled',
        at: new Date().toISOString(),
        source: 'worker',
        attempt: null,
        detail: 'x',
      });
      expect((await store.messages.get(e._id))?.events.map((ev) => ev.status)).toEqual(['expired', 'throttled']);
      expect(await counts('t-fail')).toMatchObject({ queued: 0, failed: 1, expired: 1 });
    });

    it('recordSuppressed ends a pending message suppressed with why, once, and counts it; a sent one stays sent', async () => {
      const q = message({ tenant: 't-suppressed' });
      const s = message({ tenant: 't-suppressed', status: 'scheduled' });
      const sent = message({ tenant: 't-suppressed' });
      await store.messages.insertMany([q, s, sent]);
      await store.messages.recordSent(sent._id, sentRecord(), 'accepted');
      expect(await store.messages.recordSuppressed(q._id, new Date(), 'recipient opted out before it was sent')).toBe(true);
      expect(await store.messages.recordSuppressed(q._id, new Date(), 'again')).toBe(false);
      expect(await store.messages.recordSuppressed(s._id, new Date(), 'recipient turned off delivery_reminder messages')).toBe(true);
      expect(await store.messages.recordSuppressed(sent._id, new Date(), 'too late')).toBe(false);
      const doc = await store.messages.get(q._id);
      expect(doc?.status).toBe('suppressed');
      expect(doc?.events.at(-1)).toMatchObject({
        status: 'suppressed',
        source: 'worker',
        attempt: null,
        detail: 'recipient opted out before it was sent',
      });
      expect(doc?.events.filter((e) => e.status === 'suppressed')).toHaveLength(1);
      expect((await store.messages.get(sent._id))?.status).toBe('sent');
      expect(await counts('t-suppressed')).toMatchObject({ queued: 0, scheduled: 0, suppressed: 2, sent: 1 });
    });

    it('applyStatusEvents follows the ladder: repeats add nothing, late events only add to the timeline, unknown ids come back', async () => {
      const m = message({ tenant: 't-ladder', callback_url: 'https://example.test/hook' });
      await store.messages.insert(m);
      const sent = sentRecord();
      await store.messages.recordSent(m._id, sent, 'accepted');
      const pid = sent.provider_message_id;
      const at = (s: number) => new Date(sent.at.getTime() + s * 1000).toISOString();
      const announced: string[] = [];
      const first = await store.messages.applyStatusEvents(
        [
          { provider_message_id: pid, status: 'delivered', at: at(1) },
          { provider_message_id: 'wamid.nobody', status: 'read', at: at(1) },
        ],
        async (changes) => {
          announced.push(...changes.map((c) => c.status));
        },
      );
      expect(first.unknown.map((e) => e.provider_message_id)).toEqual(['wamid.nobody']);
      expect(first.changes).toHaveLength(1);
      expect(first.changes[0]).toMatchObject({ status: 'delivered', message: { _id: m._id, callback_url: 'https://example.test/hook' } });
      expect(announced).toEqual(['delivered']);
      // The same event again, a late `sent`, and a failure after delivery: events, no status change.
      const again = await store.messages.applyStatusEvents([
        { provider_message_id: pid, status: 'delivered', at: at(1) },
        { provider_message_id: pid, status: 'sent', at: at(0) },
        { provider_message_id: pid, status: 'failed', at: at(2), error: { code: '131026', message: 'undeliverable' } },
      ]);
      expect(again.changes).toEqual([]);
      let doc = await store.messages.get(m._id);
      expect(doc?.status).toBe('delivered');
      expect(doc?.events.filter((e) => e.source === 'webhook').map((e) => e.status)).toEqual(['delivered', 'sent', 'failed']);
      await store.messages.applyStatusEvents([{ provider_message_id: pid, status: 'read', at: at(3) }]);
      doc = await store.messages.get(m._id);
      expect(doc).toMatchObject({ status: 'read', sent_to_delivered_ms: 1000 });
      expect(doc?.read_at?.toISOString()).toBe(at(3));
      expect(await counts('t-ladder')).toMatchObject({ sent: 0, delivered: 0, read: 1 });
    });

    it('a read with no delivered before it delivers too, and says so for the callbacks', async () => {
      const m = message({ tenant: 't-read', callback_url: 'https://example.test/hook' });
      await store.messages.insert(m);
      const sent = sentRecord();
      await store.messages.recordSent(m._id, sent, 'accepted');
      const readAt = new Date(sent.at.getTime() + 2000).toISOString();
      const { changes } = await store.messages.applyStatusEvents([
        { provider_message_id: sent.provider_message_id, status: 'read', at: readAt },
      ]);
      expect(changes[0]).toMatchObject({ status: 'read' });
      expect(changes[0]?.delivered_at?.toISOString()).toBe(readAt);
      expect((await store.messages.get(m._id))?.delivered_at?.toISOString()).toBe(readAt);
    });

    it('a provider failure before delivery fails the message with the provider error', async () => {
      const m = message({ tenant: 't-pfail' });
      await store.messages.insert(m);
      const sent = sentRecord();
      await store.messages.recordSent(m._id, sent, 'accepted');
      await store.messages.applyStatusEvents([
        {
          provider_message_id: sent.provider_message_id,
          status: 'failed',
          at: new Date().toISOString(),
          error: { code: '131049', message: 'ecosystem' },
        },
      ]);
      expect(await store.messages.get(m._id)).toMatchObject({ status: 'failed', error: { code: '131049', retryable: false } });
      expect(await counts('t-pfail')).toMatchObject({ sent: 0, failed: 1 });
    });

    it('cancel only a pending message; resend only a failed one; restoreFailed undoes a resend', async () => {
      const pending = message({ tenant: 't-admin', status: 'scheduled' });
      const failed = message({ tenant: 't-admin', status: 'failed', error: { code: 'x', message: 'y', retryable: true } });
      await store.messages.insertMany([pending, failed]);
      expect(await store.messages.cancel(failed._id, 'by test')).toBeNull();
      expect(await store.messages.cancel(pending._id, 'by test')).toMatchObject({ status: 'cancelled' });
      expect(await store.messages.retryableFailedIds({ tenant: 't-admin' }, 10)).toEqual([failed._id]);
      const resent = await store.messages.resend(failed._id, 'by test');
      expect(resent).toMatchObject({ status: 'queued', error: null });
      expect(resent?.events.at(-1)).toMatchObject({ status: 'resent', source: 'admin' });
      expect(await store.messages.resend(failed._id, 'again')).toBeNull();
      await store.messages.restoreFailed(failed);
      expect(await store.messages.get(failed._id)).toMatchObject({ status: 'failed', error: failed.error });
      expect(await counts('t-admin')).toMatchObject({ scheduled: 0, cancelled: 1, queued: 0, failed: 1 });
    });

    it('historyPage filters, pages newest first with a stable cursor, and counts the whole match', async () => {
      const phone = uniquePhone();
      const t0 = Date.now() - 60_000;
      const docs = Array.from({ length: 5 }, (_, i) =>
        message({ tenant: 't-history', phone, created_at: new Date(t0 + i * 1000), reference_id: i % 2 ? 'odd' : 'even' }),
      );
      await store.messages.insertMany([...docs, message({ tenant: 't-history' })]);
      const window = { tenant: 't-history', from: new Date(t0 - 1000), to: new Date(), skip: 0 };
      const first = await store.messages.historyPage({ ...window, phone, limit: 2 });
      expect(first.total).toBe(5);
      expect(first.items.map((m) => m._id)).toEqual([docs[4]?._id, docs[3]?._id]);
      const last = first.items.at(-1) as (typeof docs)[number];
      const next = await store.messages.historyPage({ ...window, phone, limit: 2, after: { created_at: last.created_at, id: last._id } });
      expect(next.items.map((m) => m._id)).toEqual([docs[2]?._id, docs[1]?._id]);
      expect((await store.messages.historyPage({ ...window, reference_id: 'odd', limit: 10 })).total).toBe(2);
      expect((await store.messages.historyPage({ ...window, tenant: 'nobody', limit: 10 })).total).toBe(0);
    });

    it('erasePerson cancels what is pending, anonymises every message, and keeps them counted', async () => {
      const phone = uniquePhone();
      const pending = message({ tenant: 't-erase', phone, reference_id: 'secret-ref' });
      const done = message({ tenant: 't-erase', phone, status: 'read', message_text: 'Hi Asha' });
      const other = message({ tenant: 't-erase' });
      await store.messages.insertMany([pending, done, other]);
      expect(await store.messages.pendingIdsFor(phone)).toEqual([pending._id]);
      const result = await store.messages.erasePerson(phone);
      expect(result.anonymised).toBe(2);
      expect(result.ids.sort()).toEqual([pending._id, done._id].sort());
      expect(await store.messages.get(pending._id)).toMatchObject({
        phone: erasedPhone,
        status: 'cancelled',
        reference_id: null,
        context: {},
      });
      expect(await store.messages.get(done._id)).toMatchObject({ phone: erasedPhone, status: 'read', message_text: null });
      expect(await store.messages.get(other._id)).toMatchObject({ phone: other.phone });
      expect((await store.messages.erasePerson(phone)).anonymised).toBe(0);
      expect(await counts('t-erase')).toMatchObject({ queued: 1, cancelled: 1, read: 1 });
    });

    it('purgeOlderThan removes old messages in batches and takes them out of their day', async () => {
      const old = [
        message({ tenant: 't-purge', created_at: new Date('2020-01-01T10:00:00Z') }),
        message({ tenant: 't-purge', created_at: new Date('2020-01-02T10:00:00Z') }),
      ];
      const recent = message({ tenant: 't-purge' });
      await store.messages.insertMany([...old, recent]);
      await store.statistics.idle();
      expect(await store.messages.purgeOlderThan(new Date('2021-01-01T00:00:00Z'), 1)).toBe(2);
      expect(await store.messages.count({ tenant: 't-purge' })).toBe(1);
      await store.statistics.idle();
      expect((await store.statistics.summarise({ from: '2020-01-01', to: '2020-01-02', tenant: 't-purge' })).total).toBe(0);
    });
  });

  describe('settings, templates, orphans, statistics', () => {
    it('settings: update sets only what is given; preferences are read singly or many at once', async () => {
      const phone = uniquePhone();
      expect(await store.settings.get(phone)).toBeNull();
      await store.settings.update(phone, { disabled_types: ['churn_risk', 'churn_risk'] }, 'admin:test');
      expect(await store.settings.get(phone)).toMatchObject({ opted_out: false, disabled_types: ['churn_risk'], source: 'admin:test' });
      await store.settings.update(phone, { opted_out: true }, 'meta:inbound');
      expect(await store.settings.preferencesFor(phone)).toMatchObject({ opted_out: true, disabled_types: ['churn_risk'] });
      const other = uniquePhone();
      expect([...(await store.settings.preferencesOf([phone, other])).keys()]).toEqual([phone]);
      // A recipient first written by an opt-out still answers whole preferences.
      const fresh = uniquePhone();
      await store.settings.update(fresh, { opted_out: true }, 'meta:inbound');
      expect(await store.settings.preferencesFor(fresh)).toEqual({ opted_out: true, disabled_types: [] });
      expect(await store.settings.remove(phone)).toBe(1);
      expect(await store.settings.preferencesFor(phone)).toBeNull();
    });

    it('templates: the eleven defaults, saved versions in order, a stale save is a conflict', async () => {
      const list = await store.templates.list();
      expect(list).toHaveLength(11);
      const current = await store.templates.get('system_alert');
      if (!current) throw new Error('system_alert missing');
      const { _id, ...rest } = current;
      const next = { ...rest, content: '⚠️ {{alert_message}}!', version: current.version + 1 };
      await store.templates.save(next, current);
      await expect(store.templates.save({ ...next, version: next.version }, current)).rejects.toThrow(/changed meanwhile/);
      expect((await store.templates.versions('system_alert')).map((v) => v.version)).toEqual([2, 1]);
      await store.templates.ensureDefaults();
      expect(await store.templates.get('system_alert')).toMatchObject({ version: 2, content: '⚠️ {{alert_message}}!' });
    });

    it('orphans: kept once per id (parsed and raw), read back, and removed by the phone they name', async () => {
      const phone = uniquePhone();
      const event = {
        provider_message_id: 'wamid.orphan',
        status: 'delivered' as const,
        at: new Date().toISOString(),
        recipient: phone.slice(1),
      };
      await store.orphans.keep('meta', new Date(), [{ id: 'job-1:0', event }]);
      await store.orphans.keep('meta', new Date(), [{ id: 'job-1:0', event }]);
      await store.orphans.keepRaw('hash-1', 'myoperator', `{"note":"call ${phone} back","weird.key":{"$x":1}}`);
      await store.orphans.keepRaw('hash-1', 'myoperator', 'replayed');
      const kept = await store.orphans.list();
      const mine = kept.filter((o) => JSON.stringify(o).includes(phone.slice(1)));
      expect(mine).toHaveLength(2);
      expect(mine.find((o) => o.id === 'job-1:0')?.event).toMatchObject(event);
      expect(await store.orphans.removeFor(phone)).toBe(2);
      expect((await store.orphans.list()).filter((o) => JSON.stringify(o).includes(phone.slice(1)))).toEqual([]);
    });

    it('statistics: rebuilt counters equal the live ones', async () => {
      await store.statistics.idle();
      const live = await store.statistics.summarise({ from: '2019-12-01', to: today });
      expect(live.total).toBeGreaterThan(0);
      await store.statistics.rebuild();
      expect(await store.statistics.summarise({ from: '2019-12-01', to: today })).toEqual(live);
    });

    it('mentions finds a value anywhere, and nothing once it is gone', async () => {
      const phone = uniquePhone();
      await store.settings.update(phone, { opted_out: true }, 'test');
      expect(await store.mentions([phone])).toEqual([`notification_settings:${phone}`]);
      await store.settings.remove(phone);
      expect(await store.mentions([phone])).toEqual([]);
    });
  });
});
