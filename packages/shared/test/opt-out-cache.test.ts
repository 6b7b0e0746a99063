import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { OptOutCache, type Preferences, suppressionReason } from '../src/index.ts';

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A settings "table" the caches load from, counting loads. */
function source(initial: Record<string, Preferences> = {}) {
  const rows = new Map(Object.entries(initial));
  const loads: string[] = [];
  return {
    rows,
    loads,
    load: async (phone: string) => {
      loads.push(phone);
      const read = rows.get(phone) ?? null; // read first, answered a little later, like a query
      await new Promise((r) => setTimeout(r, 5));
      return read;
    },
  };
}

const out: Preferences = { opted_out: true, disabled_types: [] };
const connections: Redis[] = [];
const caches: OptOutCache[] = [];
afterEach(async () => {
  for (const c of caches.splice(0)) await c.stop();
  for (const r of connections.splice(0)) await r.quit().catch(() => undefined);
});

function redis(): Redis {
  const r = new Redis(redisUrl, { maxRetriesPerRequest: null });
  connections.push(r);
  return r;
}

async function cache(opts: Partial<ConstructorParameters<typeof OptOutCache>[0]> & { load: (p: string) => Promise<Preferences | null> }) {
  const c = new OptOutCache({ channel: 'unused', ...opts });
  caches.push(c);
  return c;
}

describe('OptOutCache', () => {
  it('answers from memory within the TTL, remembers "no settings", and coalesces concurrent loads', async () => {
    const s = source({ '+919800000001': out });
    const c = await cache({ load: s.load, ttlMs: 60_000 });
    const [a, b] = await Promise.all([c.get('+919800000001'), c.get('+919800000001')]);
    expect(a).toEqual(out);
    expect(b).toEqual(out);
    expect(await c.get('+919800000002')).toBeNull();
    expect(await c.get('+919800000002')).toBeNull();
    expect(s.loads).toEqual(['+919800000001', '+919800000002']);
  });

  it('loads again once an entry is older than the TTL', async () => {
    const s = source();
    const c = await cache({ load: s.load, ttlMs: 30 });
    expect(await c.get('+919800000003')).toBeNull();
    s.rows.set('+919800000003', out);
    expect(await c.get('+919800000003')).toBeNull(); // still trusted
    await new Promise((r) => setTimeout(r, 40));
    expect(await c.get('+919800000003')).toEqual(out);
    expect(s.loads).toHaveLength(2);
  });

  it('keeps at most maxEntries, dropping the oldest', async () => {
    const s = source();
    const c = await cache({ load: s.load, maxEntries: 2 });
    for (const p of ['+919800000011', '+919800000012', '+919800000013']) await c.get(p);
    expect(c.size).toBe(2);
    await c.get('+919800000013');
    await c.get('+919800000011'); // dropped: loaded again
    expect(s.loads).toEqual(['+919800000011', '+919800000012', '+919800000013', '+919800000011']);
  });

  it('does not keep a load that an invalidation overtook', async () => {
    const s = source();
    const c = await cache({ load: s.load });
    const stale = c.get('+919800000021'); // reads "no settings"…
    s.rows.set('+919800000021', out); // …while the opt-out is written
    await c.invalidate('+919800000021');
    expect(await stale).toBeNull();
    expect(await c.get('+919800000021')).toEqual(out);
  });

  it('a load that fails is not kept: the next get tries again', async () => {
    let fail = true;
    const c = await cache({
      load: async () => {
        if (fail) throw new Error('database away');
        return out;
      },
    });
    await expect(c.get('+919800000031')).rejects.toThrow('database away');
    fail = false;
    expect(await c.get('+919800000031')).toEqual(out);
  });

  it('an invalidation published by one process drops the phone from every process at once', async () => {
    const channel = `{herald-test-${randomUUID().slice(0, 8)}}:preferences`;
    const s = source();
    const publisher = redis();
    const a = await cache({ load: s.load, channel, publisher });
    const b = await cache({ load: s.load, channel, publisher: redis() });
    await a.start(redis());
    await b.start(redis());
    expect(await a.get('+919800000041')).toBeNull();
    expect(await b.get('+919800000041')).toBeNull();
    s.rows.set('+919800000041', out);
    const t = Date.now();
    await a.invalidate('+919800000041');
    // b learns of it over Redis: within milliseconds, long before its 30 s TTL.
    for (let i = 0; i < 100 && b.size > 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(b.size).toBe(0);
    expect(Date.now() - t).toBeLessThan(500);
    expect(await b.get('+919800000041')).toEqual(out);
    expect(await a.get('+919800000041')).toEqual(out);
  });

  it('refuses options that make no sense, naming them', () => {
    const load = async () => null;
    expect(() => new OptOutCache({ load, channel: 'x', ttlMs: -1 })).toThrow(/ttlMs/);
    expect(() => new OptOutCache({ load, channel: 'x', maxEntries: 0 })).toThrow(/maxEntries/);
  });
});

describe('suppressionReason', () => {
  it('says why a message must not go, or null', () => {
    expect(suppressionReason(null, 'order_confirmation')).toBeNull();
    expect(suppressionReason({ opted_out: false, disabled_types: ['churn_risk'] }, 'order_confirmation')).toBeNull();
    expect(suppressionReason({ opted_out: true, disabled_types: [] }, 'order_confirmation')).toBe('recipient opted out');
    expect(suppressionReason({ opted_out: false, disabled_types: ['churn_risk'] }, 'churn_risk')).toBe(
      'recipient turned off churn_risk messages',
    );
  });
});
