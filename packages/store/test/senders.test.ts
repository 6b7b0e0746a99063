import { randomBytes } from 'node:crypto';
import { newSenderId, SecretBox, type SenderDocument, senderAad } from '@herald/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuplicateRecordError, type ProfileName, StoreConflictError } from '../src/index.ts';
import { openStore, type Store } from './helpers.ts';

// The senders repository under each server profile (as conformance.test.ts does), and the one
// concurrency property it promises (one default per tenant) under the profile this server needs.

const box = new SecretBox([{ id: 'k1', key: randomBytes(32) }]);

function sender(
  tenant: string,
  fields: Partial<SenderDocument> = {},
  secrets = { access_token: `tok-${randomBytes(6).toString('hex')}` },
): SenderDocument {
  const _id = fields._id ?? newSenderId();
  const now = new Date();
  return {
    _id,
    tenant,
    provider: 'meta',
    label: 'Main number',
    mps: 80,
    default_at: null,
    disabled: false,
    identifiers: { phone_number_id: '106540352242922', waba_id: '102290129340398' },
    secrets: box.sealJson(secrets, senderAad({ _id, tenant })),
    version: 1,
    created_at: now,
    updated_at: now,
    updated_by: 'test',
    ...fields,
  };
}

const change = (fields: object) => ({ updated_at: new Date(), updated_by: 'test', ...fields });

describe.each(['mongodb', 'ferretdb'] as const satisfies readonly ProfileName[])('senders under the %s profile', (profile) => {
  let opened: Awaited<ReturnType<typeof openStore>>;
  let store: Store;
  beforeAll(async () => {
    opened = await openStore(profile);
    store = opened.store;
  }, 120_000);
  afterAll(() => opened?.close());

  it('insert, get (scoped by tenant) and list; a repeated id is refused', async () => {
    const a = sender('t-list-a');
    const b = sender('t-list-b');
    await store.senders.insert(a);
    await store.senders.insert(b);
    expect(await store.senders.get(a._id)).toMatchObject({ _id: a._id, tenant: 't-list-a', version: 1 });
    expect(await store.senders.get(a._id, { tenant: 't-list-a' })).not.toBeNull();
    expect(await store.senders.get(a._id, { tenant: 't-list-b' })).toBeNull();
    expect((await store.senders.list({ tenant: 't-list-a' })).map((d) => d._id)).toEqual([a._id]);
    const all = (await store.senders.list()).map((d) => d._id);
    expect(all).toEqual(expect.arrayContaining([a._id, b._id]));
    await expect(store.senders.insert({ ...a })).rejects.toBeInstanceOf(DuplicateRecordError);
  });

  it('update is compare-and-set on version; another tenant or a missing id is null', async () => {
    const a = sender('t-update');
    await store.senders.insert(a);
    const updated = await store.senders.update(a._id, 't-update', 1, change({ label: 'Renamed', mps: 200 }));
    expect(updated).toMatchObject({ label: 'Renamed', mps: 200, version: 2, identifiers: a.identifiers });
    await expect(store.senders.update(a._id, 't-update', 1, change({ label: 'Stale' }))).rejects.toBeInstanceOf(StoreConflictError);
    expect((await store.senders.get(a._id))?.label).toBe('Renamed');
    expect(await store.senders.update(a._id, 'another-tenant', 2, change({ label: 'Hijack' }))).toBeNull();
    expect(await store.senders.update(newSenderId(), 't-update', 1, change({ label: 'x' }))).toBeNull();
  });

  it("one default per tenant: a new default clears the older one; other tenants' defaults stay", async () => {
    const other = sender('t-default-other', { default_at: new Date(Date.now() - 60_000) });
    const a = sender('t-default', { default_at: new Date(Date.now() - 1000) });
    const b = sender('t-default', { default_at: new Date() });
    await store.senders.insert(other);
    await store.senders.insert(a);
    await store.senders.insert(b);
    expect((await store.senders.defaultFor('t-default'))?._id).toBe(b._id);
    expect((await store.senders.get(a._id))?.default_at).toBeNull();

    const current = (await store.senders.get(a._id)) as SenderDocument;
    await store.senders.update(a._id, 't-default', current.version, change({ default_at: new Date(Date.now() + 5) }));
    expect((await store.senders.defaultFor('t-default'))?._id).toBe(a._id);
    expect((await store.senders.get(b._id))?.default_at).toBeNull();
    expect((await store.senders.defaultFor('t-default-other'))?._id).toBe(other._id);
    expect(await store.senders.defaultFor('t-nobody')).toBeNull();
  });

  it('re-encryption work list and compare-and-set replacement of the sealed secrets', async () => {
    const a = sender('t-reseal');
    await store.senders.insert(a);
    expect((await store.senders.notSealedWith('k1')).map((d) => d._id)).not.toContain(a._id);
    expect((await store.senders.notSealedWith('k2')).map((d) => d._id)).toContain(a._id);
    const resealed = { ...a.secrets, kid: 'k2' };
    expect(await store.senders.replaceSecrets(a._id, 2, resealed)).toBe(false); // wrong version
    expect(await store.senders.replaceSecrets(a._id, 1, resealed)).toBe(true);
    expect(await store.senders.get(a._id)).toMatchObject({ version: 2, secrets: { kid: 'k2' } });
    expect(await store.senders.replaceSecrets(newSenderId(), 1, resealed)).toBe(false);
  });

  it('holds ciphertext only: no stored field carries a secret', async () => {
    const secret = `EAAG-distinctive-${randomBytes(8).toString('hex')}`;
    const a = sender('t-cipher', {}, { access_token: secret });
    await store.senders.insert(a);
    expect(await store.mentions([secret])).toEqual([]);
    expect(box.openJson((await store.senders.get(a._id))?.secrets as SenderDocument['secrets'], senderAad(a))).toEqual({
      access_token: secret,
    });
  });
});

describe('senders under the profile this server needs', () => {
  let opened: Awaited<ReturnType<typeof openStore>>;
  beforeAll(async () => {
    opened = await openStore();
  }, 120_000);
  afterAll(() => opened?.close());

  it('six admins making six senders the default at once leave exactly one: the latest', async () => {
    const store = opened.store;
    const docs = Array.from({ length: 6 }, () => sender('t-race'));
    for (const d of docs) await store.senders.insert(d);
    const base = Date.now();
    await Promise.all(docs.map((d, i) => store.senders.update(d._id, 't-race', 1, change({ default_at: new Date(base + i) }))));
    const marked = (await store.senders.list({ tenant: 't-race' })).filter((d) => d.default_at !== null);
    expect(marked.map((d) => d._id)).toEqual([docs[5]?._id]);
    expect((await store.senders.defaultFor('t-race'))?._id).toBe(docs[5]?._id);
  });
});
