import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getMessage, reminder, send, simFor } from './helpers.ts';
import { CutProxy, type Stack, startStack, uniquePhone, waitFor } from './stack.ts';

// MongoDB unreachable while messages keep coming: the API and the worker reach the shared
// MongoDB-wire server through a loopback proxy this test cuts (the server itself must not stop).

const target = new URL(process.env.TEST_MONGO_URL ?? 'mongodb://127.0.0.1:27017');
const proxy = new CutProxy(target.hostname, Number(target.port || 27017));
let stack: Stack;

beforeAll(async () => {
  await proxy.start();
  stack = await startStack({
    env: { MONGO_URL: `mongodb://127.0.0.1:${proxy.port}/herald_test_${randomUUID().slice(0, 8)}?maxPoolSize=6` },
  });
});
afterAll(async () => {
  await proxy.restore().catch(() => undefined);
  await stack?.close();
  await proxy.cut();
});

const health = async (path = '/api/notifications/health') => {
  const started = Date.now();
  const res = await stack.api.inject({ method: 'GET', url: path });
  return { status: res.statusCode, body: res.json(), ms: Date.now() - started };
};

describe('MongoDB outage', () => {
  it('send-message and send-bulk keep answering 202; when MongoDB returns every accepted message is in history and sent once', async () => {
    expect((await health()).body).toMatchObject({ status: 'ok', accepting: true });
    await proxy.cut();

    for (const path of ['/api/notifications/health', '/api/notifications/health/ready']) {
      const down = await health(path);
      expect(down.status).toBe(503);
      expect(down.body).toMatchObject({ status: 'unavailable', checks: { redis: 'ok', mongo: 'down' }, accepting: true });
      expect(down.ms).toBeLessThan(2000);
    }
    expect((await health('/api/notifications/health/live')).status).toBe(200);

    const phones = Array.from({ length: 10 }, () => uniquePhone());
    const ids: string[] = [];
    for (const phone of phones.slice(0, 5)) {
      const res = await send(stack, reminder(phone, { immediate: false }));
      expect(res.status).toBe(202);
      expect(res.body.status).toBe('queued');
      ids.push(res.body.id);
    }
    const bulk = await stack.api.inject({
      method: 'POST',
      url: '/api/notifications/send-bulk',
      headers: { authorization: `Bearer ${stack.token('service')}` },
      payload: { messages: phones.slice(5).map((p) => reminder(p)) },
    });
    expect(bulk.statusCode).toBe(207);
    for (const r of bulk.json().results) {
      expect(r.status).toBe('queued');
      ids.push(r.id);
    }
    // Found the moment it is accepted, from its job, while its record cannot be written.
    const pending = await getMessage(stack, ids[0] as string);
    expect(pending.status).toBe(200);
    expect(pending.body).toMatchObject({ id: ids[0], status: 'queued', phone: phones[0] });

    await proxy.restore();
    await waitFor(async () => (await health()).status === 200, { timeoutMs: 30_000, what: 'health to recover' });
    await waitFor(async () => (await stack.store.messages.count({ ids, status: ['sent', 'delivered', 'read'] })) === ids.length, {
      timeoutMs: 90_000,
      intervalMs: 250,
      what: 'every accepted message in history and sent',
    });
    for (const phone of phones) expect((await simFor(stack, phone)).messages, phone).toHaveLength(1);
  }, 150_000);
});
