import type { ProviderTemplateListing } from '@herald/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notListedReason, type ProfileName } from '../src/index.ts';
import { openStore, type Store } from './helpers.ts';

// The provider-templates repository under each server profile, against the server CI has.

const listing = (name: string, fields: Partial<ProviderTemplateListing> = {}): ProviderTemplateListing => ({
  name,
  language: 'en_US',
  status: 'APPROVED',
  category: 'UTILITY',
  quality: 'GREEN',
  reason: null,
  provider_id: `id-${name}`,
  ...fields,
});

describe.each(['mongodb', 'ferretdb'] as const satisfies readonly ProfileName[])('provider templates under the %s profile', (profile) => {
  let opened: Awaited<ReturnType<typeof openStore>>;
  let store: Store;
  beforeAll(async () => {
    opened = await openStore(profile);
    store = opened.store;
  }, 120_000);
  afterAll(() => opened?.close());

  it('a sync records each listed template with its status, quality, category, id and last sync; a repeat changes nothing', async () => {
    const at = new Date('2026-03-01T10:00:00Z');
    const first = await store.providerTemplates.applySync(
      'meta',
      [listing('a'), listing('b', { status: 'REJECTED', reason: 'PROMOTIONAL' })],
      at,
    );
    expect(first).toEqual({ changed: 2, removed: 0 });
    expect(await store.providerTemplates.get('meta', 'b', 'en_US')).toMatchObject({
      _id: 'meta:b:en_US',
      status: 'REJECTED',
      reason: 'PROMOTIONAL',
      category: 'UTILITY',
      quality: 'GREEN',
      provider_id: 'id-b',
      last_synced_at: at,
    });
    const later = new Date('2026-03-01T10:15:00Z');
    expect(
      await store.providerTemplates.applySync('meta', [listing('a'), listing('b', { status: 'REJECTED', reason: 'PROMOTIONAL' })], later),
    ).toEqual({
      changed: 0,
      removed: 0,
    });
    const a = await store.providerTemplates.get('meta', 'a', 'en_US');
    expect(a?.last_synced_at).toEqual(later);
    expect(a?.updated_at.getTime()).toBeLessThanOrEqual(Date.now());
    expect((await store.providerTemplates.list('meta')).map((d) => d.name)).toEqual(['a', 'b']);
  });

  it('the same name in two languages is two records', async () => {
    await store.providerTemplates.applySync(
      'meta',
      [
        listing('a'),
        listing('b', { status: 'REJECTED' }),
        listing('lang', { language: 'en' }),
        listing('lang', { language: 'hi', status: 'PAUSED' }),
      ],
      new Date('2026-03-01T10:20:00Z'),
    );
    expect((await store.providerTemplates.get('meta', 'lang', 'en'))?.status).toBe('APPROVED');
    expect((await store.providerTemplates.get('meta', 'lang', 'hi'))?.status).toBe('PAUSED');
  });

  it('a webhook newer than the sync applies; an older one (delivered late) changes nothing', async () => {
    const paused = await store.providerTemplates.apply('meta', {
      name: 'a',
      language: 'en_US',
      at: new Date('2026-03-01T10:30:00Z'),
      status: { status: 'PAUSED', reason: 'FIRST_PAUSE' },
    });
    expect(paused).toMatchObject({ status: 'PAUSED', reason: 'FIRST_PAUSE', quality: 'GREEN' });
    const stale = await store.providerTemplates.apply('meta', {
      name: 'a',
      language: 'en_US',
      at: new Date('2026-03-01T10:25:00Z'),
      status: { status: 'APPROVED', reason: null },
    });
    expect(stale).toBeNull();
    expect((await store.providerTemplates.get('meta', 'a', 'en_US'))?.status).toBe('PAUSED');
  });

  it('a quality webhook changes the quality only; a sync read before it does not undo it', async () => {
    const red = await store.providerTemplates.apply('meta', {
      name: 'a',
      language: 'en_US',
      at: new Date('2026-03-01T10:40:00Z'),
      quality: 'RED',
    });
    expect(red).toMatchObject({ status: 'PAUSED', quality: 'RED' });
    // A sync that read the list at 10:29 (before both webhooks) brings an older status and quality.
    await store.providerTemplates.applySync(
      'meta',
      [listing('a'), listing('b'), listing('lang', { language: 'en' })],
      new Date('2026-03-01T10:29:00Z'),
    );
    expect(await store.providerTemplates.get('meta', 'a', 'en_US')).toMatchObject({ status: 'PAUSED', quality: 'RED' });
  });

  it('a template the provider no longer lists is marked DELETED', async () => {
    const result = await store.providerTemplates.applySync('meta', [listing('a')], new Date('2026-03-01T11:00:00Z'));
    expect(result.removed).toBe(2); // b and lang/en; lang/hi went at the 10:29 sync
    expect((await store.providerTemplates.get('meta', 'lang', 'hi'))?.status).toBe('DELETED');
    expect(await store.providerTemplates.get('meta', 'b', 'en_US')).toMatchObject({ status: 'DELETED', reason: notListedReason });
    expect(await store.providerTemplates.get('meta', 'a', 'en_US')).toMatchObject({ status: 'APPROVED', quality: 'GREEN' });
  });

  it('a webhook about a template no sync has listed yet creates its record', async () => {
    const doc = await store.providerTemplates.apply('meta', {
      name: 'fresh',
      language: 'en',
      at: new Date(),
      status: { status: 'PENDING', reason: null, category: 'MARKETING' },
      provider_id: '42',
    });
    expect(doc).toMatchObject({ status: 'PENDING', category: 'MARKETING', provider_id: '42', last_synced_at: null, quality: null });
  });
});
