import { randomUUID } from 'node:crypto';
import { type MessageDocument, newMessageDocument, newMessageId } from '@herald/shared';
import { Redis } from 'ioredis';
import { connectStore, dropDatabase, type ProfileName, profileNamed, type Store } from '../src/index.ts';

const base = (process.env.TEST_MONGO_URL ?? 'mongodb://127.0.0.1:27017').replace(/\/+$/, '');

/** A database of its own, with a small pool (see the FerretDB profile's pool cap). */
export const freshUrl = () => `${base}/herald_test_store_${randomUUID().replaceAll('-', '').slice(0, 12)}?maxPoolSize=6`;

export const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * A store on a fresh database. `profile` forces a server profile (the conformance suite runs each
 * against this server); without it the store detects what answers, as production does.
 */
export async function openStore(profile?: ProfileName, url = freshUrl()) {
  const redis = new Redis(redisUrl);
  const locks = { redis, prefix: `{herald-test-store-${randomUUID().slice(0, 8)}}` };
  const store = await connectStore({ url, locks, ...(profile ? { profile: profileNamed(profile, locks) } : {}) });
  return {
    store,
    url,
    locks,
    async close(drop = true) {
      if (drop) await store.drop().catch(() => undefined);
      await store.close();
      await redis.quit();
    },
  };
}

export { dropDatabase, type Store };

let phone = Math.floor(Math.random() * 1_000_000);
export const uniquePhone = () => `+9197${String(++phone % 100_000_000).padStart(8, '0')}`;

/** A message record as the API builds it (status queued unless said otherwise). */
export function message(fields: Partial<MessageDocument> = {}): MessageDocument {
  return newMessageDocument({
    _id: newMessageId(),
    tenant: 'acme',
    phone: uniquePhone(),
    message_type: 'delivery_reminder',
    context: { customer_name: 'Asha', delivery_date: '2026-02-01' },
    status: 'queued',
    provider: 'meta',
    created_at: new Date(),
    queued_at: new Date(),
    ...fields,
  });
}
