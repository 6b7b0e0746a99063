import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type Stack, startStack, uniquePhone, waitFor } from './stack.ts';

// Herald against a Redis Cluster (issue 5): three masters of the machine's redis-server on
// loopback ports, started here. Where redis-server is missing this test is skipped, loudly.

const hasRedis = spawnSync('redis-server', ['--version']).status === 0 && spawnSync('redis-cli', ['--version']).status === 0;
if (!hasRedis) {
  console.warn('\n*** SKIPPED: the Redis Cluster test needs redis-server and redis-cli on PATH (apt-get install redis-server) ***\n');
}

const dir = mkdtempSync(`${tmpdir()}/herald-cluster-`);
const nodes: { port: number; child: ChildProcess }[] = [];
let stack: Stack | undefined;

async function ping(port: number): Promise<boolean> {
  return spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG';
}

describe.skipIf(!hasRedis)('Redis Cluster', () => {
  beforeAll(async () => {
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const child = spawn(
        'redis-server',
        [
          '--bind',
          '127.0.0.1',
          '--port',
          String(port),
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `${dir}/nodes-${port}.conf`,
          '--dir',
          dir,
          '--save',
          '',
          '--appendonly',
          'no',
          '--dbfilename',
          `dump-${port}.rdb`,
        ],
        { stdio: 'ignore' },
      );
      nodes.push({ port, child });
    }
    for (const n of nodes) await waitFor(() => ping(n.port), { what: `redis-server on ${n.port}` });
    execFileSync(
      'redis-cli',
      ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'],
      {
        stdio: 'ignore',
      },
    );
    for (const n of nodes) {
      await waitFor(
        async () =>
          spawnSync('redis-cli', ['-p', String(n.port), 'cluster', 'info'], { encoding: 'utf8' }).stdout.includes('cluster_state:ok'),
        { timeoutMs: 20_000, what: 'cluster_state:ok' },
      );
    }
    stack = await startStack({
      env: { REDIS_CLUSTER_NODES: nodes.map((n) => `127.0.0.1:${n.port}`).join(','), REDIS_URL: 'redis://127.0.0.1:1' },
    });
  }, 60_000);

  afterAll(async () => {
    await stack?.close().catch(() => undefined);
    for (const n of nodes) n.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('accepts, sends and follows a message to read, with every queue key in the {prefix} slot', async () => {
    const s = stack as Stack;
    const phone = uniquePhone();
    const res = await s.api.inject({
      method: 'POST',
      url: '/api/notifications/send-message',
      headers: { authorization: `Bearer ${s.token('service')}`, 'idempotency-key': `cluster-${phone}` },
      payload: { phone, message_type: 'system_alert', context: { alert_message: 'Water supply off 2-4 pm' } },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().status).toBe('sent');
    const id = res.json().id as string;
    await waitFor(async () => (await s.store.messages.get(id))?.status === 'read', { timeoutMs: 20_000, what: 'read' });

    const health = await s.api.inject({ method: 'GET', url: '/api/notifications/health' });
    expect(health.json()).toMatchObject({ status: 'ok', checks: { redis: 'ok' } });

    // The keys really are in the cluster, all on the one node that owns the prefix's slot.
    const cluster = new Cluster(nodes.map((n) => ({ host: '127.0.0.1', port: n.port })));
    try {
      await new Promise((r) => cluster.once('ready', r));
      const counts = await Promise.all(cluster.nodes('master').map((node) => node.keys(`${s.config.QUEUE_PREFIX}*`).then((k) => k.length)));
      expect(counts.filter((c) => c > 0)).toHaveLength(1);
      expect(counts.reduce((a, b) => a + b, 0)).toBeGreaterThan(3);
    } finally {
      cluster.disconnect();
    }
  });
});
