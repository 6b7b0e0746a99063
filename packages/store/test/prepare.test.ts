import { defaultTemplates } from '@herald/shared';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import { connectStore, detectProfile, profileNamed } from '../src/index.ts';
import { dropDatabase, freshUrl, message, openStore, redisUrl } from './helpers.ts';

const urls: string[] = [];
afterAll(async () => {
  for (const url of urls) await dropDatabase(url).catch(() => undefined);
});

/** Index name → key as the server reports them (directions as plain numbers). */
async function indexes(url: string, collection: string): Promise<Map<string, Record<string, number>>> {
  const client = await new MongoClient(url).connect();
  try {
    const list = await client.db().collection(collection).listIndexes().toArray();
    return new Map(list.map((i) => [i.name as string, Object.fromEntries(Object.entries(i.key).map(([k, v]) => [k, Number(v)]))]));
  } finally {
    await client.close();
  }
}

// FerretDB on a busy machine can take many seconds to create a database: give these room.
describe('connecting and preparing a database', { timeout: 180_000 }, () => {
  it('detects the server from what it says it is: FerretDB names itself in buildInfo, MongoDB does not', async () => {
    const client = await new MongoClient(freshUrl()).connect();
    try {
      const info = await client.db().admin().command({ buildInfo: 1 });
      const profile = await detectProfile(client.db());
      expect(profile.name).toBe(typeof info.ferretdbVersion === 'string' ? 'ferretdb' : 'mongodb');
    } finally {
      await client.close();
    }
  });

  it('the MongoDB profile creates the indexes of SPEC 6, once; the FerretDB profile creates none (they are never used there)', async () => {
    const mongo = await openStore('mongodb');
    urls.push(mongo.url);
    const ferret = await openStore('ferretdb');
    urls.push(ferret.url);
    try {
      const made = await indexes(mongo.url, 'notifications_log');
      expect(made.get('tenant_created')).toEqual({ tenant: 1, created_at: -1 });
      expect(made.get('phone_created')).toEqual({ phone: 1, created_at: -1 });
      expect(made.get('reference_id')).toEqual({ reference_id: 1 });
      expect(made.get('status_created')).toEqual({ status: 1, created_at: 1 });
      expect(made.get('provider_message_id')).toEqual({ provider_message_id: 1 });
      expect(made.get('day')).toEqual({ day: 1 });
      expect(made.size).toBe(7); // _id and the six
      expect((await indexes(mongo.url, 'notification_template_versions')).get('type_version')).toEqual({ type: 1, version: -1 });
      // Preparing again (a second process starting) adds nothing.
      await connectStore({ url: mongo.url, locks: mongo.locks, profile: profileNamed('mongodb') }).then((s) => s.close());
      expect((await indexes(mongo.url, 'notifications_log')).size).toBe(7);
      expect([...(await indexes(ferret.url, 'notifications_log')).keys()]).toEqual(['_id_']);
    } finally {
      await mongo.close(false);
      await ferret.close(false);
    }
  });

  it('installs the eleven templates once, and never overwrites one an admin edited', async () => {
    const { store, url, locks, close } = await openStore();
    urls.push(url);
    try {
      const list = await store.templates.list();
      expect(list.map((t) => t.type).sort()).toEqual(defaultTemplates.map((t) => t.type).sort());
      for (const def of defaultTemplates) {
        expect(list.find((t) => t.type === def.type)).toMatchObject({
          content: def.content,
          active: true,
          version: 1,
          variables: [...def.variables],
        });
        expect(await store.templates.versions(def.type)).toHaveLength(1);
      }
      const current = await store.templates.get('delivery_reminder');
      if (!current) throw new Error('missing');
      const { _id, ...rest } = current;
      await store.templates.save({ ...rest, content: 'Hello {{customer_name}}, {{delivery_date}}.', version: 2, active: false }, current);
      const again = await connectStore({ url, locks });
      await again.close();
      expect(await store.templates.get('delivery_reminder')).toMatchObject({ version: 2, active: false });
      expect(await store.templates.list()).toHaveLength(11);
    } finally {
      await close(false);
    }
  });

  it('two processes preparing the same fresh database at once both succeed', async () => {
    const redis = new Redis(redisUrl);
    try {
      for (let round = 0; round < 3; round++) {
        const url = freshUrl();
        urls.push(url);
        const locks = { redis, prefix: `{prepare-${round}}` };
        const results = await Promise.allSettled([connectStore({ url, locks }), connectStore({ url, locks })]);
        const errors = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
        expect(errors, `round ${round}`).toEqual([]);
        for (const r of results) if (r.status === 'fulfilled') await r.value.close();
      }
    } finally {
      await redis.quit();
    }
  });

  it('a database with messages from before the counters gets them built at start, without holding the start up', async () => {
    const url = freshUrl();
    urls.push(url);
    const client = await new MongoClient(url).connect();
    const old = Array.from({ length: 3 }, () =>
      message({ tenant: 'acme', status: 'read', message_type: 'payment_reminder', created_at: new Date('2026-11-20T10:00:00Z') }),
    );
    await client
      .db()
      .collection('notifications_log')
      .insertMany(old as never[]);
    await client.close();
    const { store, close } = await openStore(undefined, url);
    try {
      let counted: number | undefined;
      for (let i = 0; i < 100 && counted !== 3; i++) {
        counted = (await store.statistics.summarise({ from: '2026-11-20', to: '2026-11-20', tenant: 'acme' })).by_status.read;
        if (counted !== 3) await new Promise((r) => setTimeout(r, 100));
      }
      expect(counted).toBe(3);
    } finally {
      await close(false);
    }
  });
});
