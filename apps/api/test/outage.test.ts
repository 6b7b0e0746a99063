import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reminder, send } from './helpers.ts';
import { type Stack, startStack, waitFor } from './stack.ts';

// Health and send-message while Redis is away: a Redis of this test's own (the shared one must
// not be stopped), on a free loopback port.

const freePort = () =>
  new Promise<number>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });

let port: number;
let redis: ChildProcess | undefined;
let stack: Stack;
const dir = mkdtempSync(`${tmpdir()}/herald-redis-`);

async function startRedis() {
  const child = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'yes', '--dir', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  redis = child;
  let out = '';
  child.stdout?.on('data', (b: Buffer) => {
    out += b.toString();
  });
  child.stderr?.on('data', (b: Buffer) => {
    out += b.toString();
  });
  // Probe by connecting, never by binding the port ourselves: a probe that holds the port for a
  // moment can make redis-server's own bind fail (EADDRINUSE) and the server exit.
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}: ${out}`);
      return new Promise<boolean>((resolve) => {
        const s = connect(port, '127.0.0.1');
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      });
    },
    { what: 'redis-server to listen' },
  );
}
async function stopRedis() {
  const r = redis;
  if (!r || r.exitCode !== null) return;
  const exited = new Promise((resolve) => r.once('exit', resolve));
  r.kill('SIGKILL');
  await exited;
}

const health = async () => {
  const started = Date.now();
  const res = await stack.api.inject({ method: 'GET', url: '/api/notifications/health' });
  return { status: res.statusCode, body: res.json(), ms: Date.now() - started };
};

beforeAll(async () => {
  port = await freePort();
  await startRedis();
  stack = await startStack({ worker: false, env: { REDIS_URL: `redis://127.0.0.1:${port}` } });
});
afterAll(async () => {
  // Let the stack close cleanly; a second redis-server on the port would exit and orphan the first.
  if (!redis || redis.exitCode !== null) await startRedis().catch(() => undefined);
  await stack?.close();
  await stopRedis();
});

describe('Redis outage', () => {
  it('health answers 503 naming redis within 2 s, send-message 503, and both recover', async () => {
    expect((await health()).status).toBe(200);
    await stopRedis();

    const down = await health();
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ status: 'unavailable', checks: { redis: 'down', mongo: 'ok' } });
    expect(down.ms).toBeLessThan(2000);

    const refused = await send(stack, reminder('+919876543210', { immediate: false }));
    expect(refused.status).toBe(503);
    expect(refused.body.error).toBe('unavailable');

    await startRedis();
    await waitFor(async () => (await health()).status === 200, { timeoutMs: 20_000, what: 'health to recover' });
    const accepted = await send(stack, reminder('+919876543210', { immediate: false }));
    expect(accepted.status).toBe(202);
  });
});
