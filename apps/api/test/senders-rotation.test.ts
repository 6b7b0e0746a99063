import { randomBytes } from 'node:crypto';
import { fastifyOptions, app as heraldApi } from '@herald/api';
import { resolveSender, SecretBox, SecretOpenError } from '@herald/shared';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, spawnHerald, startStack } from './stack.ts';

// Rotating SENDER_KEYS without downtime: a sender sealed under k1; the processes restart with
// `k2,k1` (both read it); re-encryption moves it to k2; with only k2 configured it still opens and
// k1 no longer can. Then `pnpm senders:reencrypt` moves it on to k3 the same way.

const entry = (id: string) => `${id}:${randomBytes(32).toString('base64')}`;
const k1 = entry('k1');
const k2 = entry('k2');
const k3 = entry('k3');

let stack: Stack;
const apps: FastifyInstance[] = [];
beforeAll(async () => {
  stack = await startStack({ worker: false, env: { SENDER_KEYS: k1 } });
});
afterAll(async () => {
  for (const a of apps) await a.close();
  await stack?.close();
});

/** An API on the stack's database and Redis, started with other SENDER_KEYS (a restarted process). */
async function apiWith(keys: string): Promise<FastifyInstance> {
  const api = Fastify({ ...fastifyOptions, logger: false });
  await api.register(heraldApi, { config: { ...stack.config, SENDER_KEYS: keys } });
  await api.ready();
  apps.push(api);
  return api;
}

async function call(api: FastifyInstance, method: 'GET' | 'POST', url: string, payload?: object, tenant?: string) {
  const res = await api.inject({
    method,
    url: `/api/v1/admin${url}`,
    headers: { authorization: `Bearer ${stack.token('admin', tenant)}` },
    ...(payload ? { payload } : {}),
  });
  return { status: res.statusCode, body: res.json() };
}

describe('key rotation', () => {
  it('k1 → k2 by the admin route: both keys read during the change, only k2 after it', async () => {
    const token = `EAAG-rotate-${randomBytes(8).toString('hex')}`;
    const created = await call(
      stack.api,
      'POST',
      '/senders',
      {
        provider: 'meta',
        label: 'Rotating',
        identifiers: { phone_number_id: '106540352242922', waba_id: '102290129340398' },
        credentials: { access_token: token },
        webhook_secrets: { app_secret: 'app-secret-for-rotation' },
      },
      'rotation',
    );
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect((await stack.store.senders.get(id))?.secrets.kid).toBe('k1');

    // Step 1: every process restarts with the new key first; the old one still reads.
    const both = await apiWith(`${k2},${k1}`);
    expect((await call(both, 'GET', `/senders/${id}`)).body.encryption).toEqual({ key_id: 'k1', readable: true });

    // Step 2: re-encrypt (a platform admin only), safe to repeat.
    expect((await call(both, 'POST', '/senders/reencrypt', undefined, 'rotation')).status).toBe(403);
    const report = await call(both, 'POST', '/senders/reencrypt');
    expect(report.status).toBe(200);
    expect(report.body).toMatchObject({ key_id: 'k2', unreadable: [] });
    expect(report.body.reencrypted).toBeGreaterThanOrEqual(1);
    expect((await call(both, 'POST', '/senders/reencrypt')).body).toEqual({ key_id: 'k2', reencrypted: 0, unreadable: [] });
    const doc = await stack.store.senders.get(id);
    expect(doc?.secrets.kid).toBe('k2');

    // Step 3: the old key is dropped: the sender still opens with k2 alone, and k1 alone cannot open it.
    const onlyNew = await apiWith(k2);
    const view = await call(onlyNew, 'GET', `/senders/${id}`);
    expect(view.body).toMatchObject({
      encryption: { key_id: 'k2', readable: true },
      credentials: { access_token: { set: true, last4: token.slice(-4) } },
    });
    const deps = { senders: stack.store.senders, config: stack.config };
    expect(await resolveSender(id, { ...deps, box: SecretBox.fromKeys(k2) })).toMatchObject({ access_token: token });
    await expect(resolveSender(id, { ...deps, box: SecretBox.fromKeys(k1) })).rejects.toBeInstanceOf(SecretOpenError);
    // A process still on k1 alone lists it as unreadable instead of failing.
    expect((await call(stack.api, 'GET', `/senders/${id}`)).body).toMatchObject({
      encryption: { key_id: 'k2', readable: false },
      credentials: { access_token: { set: true } },
    });

    // The same step by command: `pnpm senders:reencrypt` with k3 first.
    const run = spawnHerald('apps/worker/src/bin/senders-reencrypt.ts', stack.config, { SENDER_KEYS: `${k3},${k2}` });
    expect(await run.exited, run.output()).toBe(0);
    expect(run.output()).toMatch(/senders re-encrypted with key k3: [1-9]/);
    expect((await stack.store.senders.get(id))?.secrets.kid).toBe('k3');
    expect(await resolveSender(id, { ...deps, box: SecretBox.fromKeys(k3) })).toMatchObject({ access_token: token });

    // With a key missing the command names the senders it could not open and fails, so the key is kept.
    const missing = spawnHerald('apps/worker/src/bin/senders-reencrypt.ts', stack.config, { SENDER_KEYS: k1 });
    expect(await missing.exited).toBe(1);
    expect(missing.output()).toContain(`not readable (sealed with key k3, not in SENDER_KEYS): ${id}`);
  }, 120_000);
});
