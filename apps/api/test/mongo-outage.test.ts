import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reminder, send } from './helpers.ts';
import { CutProxy, type Stack, startStack, waitFor } from './stack.ts';

// Health and send-message while MongoDB is unreachable: the API reaches the shared MongoDB-wire
// server through a loopback proxy this test cuts (the shared server itself must not be stopped).

const target = new URL(process.env.TEST_MONGO_URL ?? 'mongodb://127.0.0.1:27017');
const proxy = new CutProxy(target.hostname, Number(target.port || 27017));
let stack: Stack;

beforeAll(async () => {
  await proxy.start();
  stack = await startStack({
    worker: false,
    env: { MONGO_URL: `mongodb://127.0.0.1:${proxy.port}/herald_test_${randomUUID().slice(0, 8)}` },
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
  it('readiness answers 503 naming mongo within 2 s, liveness stays 200, send-message 503, and all recover', async () => {
    expect((await health()).status).toBe(200);
    await proxy.cut();

    for (const path of ['/api/notifications/health', '/api/notifications/health/ready']) {
      const down = await health(path);
      expect(down.status).toBe(503);
      expect(down.body).toMatchObject({ status: 'unavailable', checks: { redis: 'ok', mongo: 'down' } });
      expect(down.ms).toBeLessThan(2000);
    }
    expect((await health('/api/notifications/health/live')).status).toBe(200);

    const refused = await send(stack, reminder('+919876543210', { immediate: false }));
    expect(refused.status).toBe(503);
    expect(refused.body.error).toBe('unavailable');

    await proxy.restore();
    await waitFor(async () => (await health()).status === 200, { timeoutMs: 30_000, what: 'health to recover' });
    const accepted = await send(stack, reminder('+919876543210', { immediate: false }));
    expect(accepted.status).toBe(202);
  });
});
