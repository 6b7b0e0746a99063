import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { mintToken } from '@herald/api';
import type { Config } from '@herald/shared';
import { dropHeraldData, freePort, type SpawnedProcess, spawnHerald, testConfig, uniquePhone, waitFor } from '@herald/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Logs of every process (API, worker, simulator spawned as real processes, debug level) after
// real traffic with credentials set: none of the credentials and no full phone number appear, and
// the caller's request id follows the message from the API into the worker.

const secret = (name: string) => `${name}-${randomBytes(12).toString('hex')}`;
const secrets = {
  JWT_SECRET: secret('jwtsecret-that-is-long-enough'),
  META_ACCESS_TOKEN: secret('metaaccesstoken'),
  META_APP_SECRET: secret('metaappsecret'),
  META_VERIFY_TOKEN: secret('metaverifytoken'),
  CALLBACK_SECRET: secret('callbacksecret'),
};

let config: Config;
let apiUrl: string;
let simUrl: string;
const procs: Record<string, SpawnedProcess> = {};

async function up(url: string, proc: SpawnedProcess) {
  await waitFor(
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`exited: ${proc.output()}`);
      return fetch(url).then(
        (r) => r.status < 500,
        () => false,
      );
    },
    { timeoutMs: 30_000, what: url },
  );
}

beforeAll(async () => {
  const [apiPort, simPort] = [await freePort(), await freePort()];
  apiUrl = `http://127.0.0.1:${apiPort}`;
  simUrl = `http://127.0.0.1:${simPort}`;
  config = testConfig({
    ...secrets,
    LOG_LEVEL: 'debug',
    PORT: String(apiPort),
    SIMULATOR_PORT: String(simPort),
    SIMULATOR_WEBHOOK_URL: apiUrl,
    META_API_BASE_URL: simUrl,
  });
  const extra = { SIMULATOR_WEBHOOK_DELAYS_MS: '10,20,30' };
  procs.simulator = spawnHerald('apps/simulator/src/server.ts', config, extra);
  procs.api = spawnHerald('apps/api/src/server.ts', config, extra);
  await up(`${simUrl}/_sim/stats`, procs.simulator);
  await up(`${apiUrl}/api/notifications/health/live`, procs.api);
  procs.worker = spawnHerald('apps/worker/src/main.ts', config, { WORKER_METRICS_PORT: String(await freePort()) });
});

afterAll(async () => {
  for (const p of Object.values(procs)) {
    if (p.child.exitCode === null) p.child.kill('SIGTERM');
    await p.exited;
  }
  await dropHeraldData(config);
});

describe('logs', () => {
  it('carry the request id into the worker and hold no credential and no full phone number', async () => {
    const token = mintToken(secrets.JWT_SECRET, { sub: 'logs-test', role: 'admin' }, 600_000);
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const phones = [uniquePhone(), uniquePhone(), uniquePhone()];
    const requestId = `req-${randomUUID()}`;
    // The third recipient is undeliverable (131026): the failure path logs too.
    await fetch(`${simUrl}/_sim/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        script: [
          { code: 131000, to: phones[2] },
          { code: 131026, to: phones[2] },
        ],
      }),
    });
    const ids: string[] = [];
    for (const [i, phone] of phones.entries()) {
      const res = await fetch(`${apiUrl}/api/notifications/send-message`, {
        method: 'POST',
        headers: { ...auth, 'x-request-id': i === 0 ? requestId : randomUUID() },
        body: JSON.stringify({
          phone,
          message_type: 'delivery_reminder',
          context: { customer_name: 'Asha', delivery_date: '2026-02-01' },
          immediate: i === 0,
        }),
      });
      expect(res.status).toBeLessThan(300);
      ids.push(((await res.json()) as { id: string }).id);
    }
    // Phone numbers and secrets in URLs: history by phone (+ as %2B), the verification handshake,
    // a rejected token, a wrong webhook signature.
    for (const phone of phones) {
      expect((await fetch(`${apiUrl}/api/notifications/history/${encodeURIComponent(phone)}`, { headers: auth })).status).toBe(200);
      await fetch(`${apiUrl}/api/notifications/history?phone=${phone.slice(1)}`, { headers: auth });
    }
    const hs = await fetch(
      `${apiUrl}/api/v1/whatsapp/webhook?hub.mode=subscribe&hub.verify_token=${secrets.META_VERIFY_TOKEN}&hub.challenge=42`,
    );
    expect(hs.status).toBe(200);
    await fetch(`${apiUrl}/api/notifications/history`, { headers: { authorization: `Bearer ${token}x` } });
    await fetch(`${apiUrl}/api/v1/whatsapp/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': 'sha256=00' },
      body: '{}',
    });
    for (const [i, id] of ids.entries()) {
      await waitFor(
        async () => {
          const res = await fetch(`${apiUrl}/api/notifications/messages/${id}`, { headers: auth });
          return ((await res.json()) as { status: string }).status === (i === 2 ? 'failed' : 'read');
        },
        { timeoutMs: 30_000, what: `${id} read or failed` },
      );
    }

    const logs = Object.entries(procs).map(([name, p]) => ({ name, text: p.output() }));
    if (process.env.DUMP_LOGS) writeFileSync(process.env.DUMP_LOGS, logs.map((l) => `=== ${l.name}\n${l.text}`).join('\n'));
    const worker = logs.find((l) => l.name === 'worker')?.text ?? '';
    const api = logs.find((l) => l.name === 'api')?.text ?? '';
    // JSON lines, and the request id in both processes.
    for (const { name, text } of logs) {
      for (const line of text.split('\n').filter(Boolean)) expect(() => JSON.parse(line), `${name}: ${line}`).not.toThrow();
    }
    expect(api).toContain(requestId);
    const sentLine = worker.split('\n').find((l) => l.includes(requestId));
    expect(sentLine, 'a worker log line with the request id').toBeDefined();
    expect(JSON.parse(sentLine as string)).toMatchObject({ request_id: requestId, id: ids[0] });

    for (const { name, text } of logs) {
      for (const [key, value] of Object.entries(secrets)) expect(text.includes(value), `${name} logs ${key}`).toBe(false);
      expect(text.includes(token), `${name} logs the JWT`).toBe(false);
      for (const phone of phones) {
        // The national number: however the phone is written, its last ten digits would show.
        const national = phone.slice(-10);
        expect(text.includes(national), `${name} logs ${phone}: ${text.split('\n').find((l) => l.includes(national))}`).toBe(false);
      }
    }
  });
});
