import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reminder, send, simFor } from './helpers.ts';
import { freePort, metric, type SpawnedProcess, type Stack, scrape, spawnHerald, startStack, uniquePhone, waitFor } from './stack.ts';

// Operations (issue 5): Prometheus metrics of the API and of a worker process after real traffic,
// the operator's pause switch, and readiness while MongoDB is cut off.

let stack: Stack;
let worker: SpawnedProcess;
let workerUrl: string;

beforeAll(async () => {
  stack = await startStack({ worker: false, webhookDelaysMs: { sent: 10, delivered: 20, read: 30 } });
  const port = await freePort();
  worker = spawnHerald('apps/worker/src/main.ts', stack.config, { WORKER_METRICS_PORT: String(port), LOG_LEVEL: 'info' });
  workerUrl = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (worker.child.exitCode !== null) throw new Error(`worker exited: ${worker.output()}`);
      return fetch(`${workerUrl}/health/ready`).then(
        (r) => r.ok,
        () => false,
      );
    },
    { timeoutMs: 30_000, what: 'the worker to be ready' },
  );
});
afterAll(async () => {
  if (worker && worker.child.exitCode === null) {
    worker.child.kill('SIGTERM');
    await worker.exited;
  }
  await stack?.close();
});

const admin = (url: string) =>
  stack.api
    .inject({ method: 'POST', url, headers: { authorization: `Bearer ${stack.token('admin')}` } })
    .then((r) => ({ status: r.statusCode, body: r.json() }));
const apiMetrics = async () => {
  const res = await stack.api.inject({ method: 'GET', url: '/metrics' });
  expect(res.statusCode).toBe(200);
  const { parseMetrics } = await import('@herald/test-utils');
  return parseMetrics(res.body);
};
const statusOf = async (id: string) => (await stack.store.messages.get(id))?.status;

describe('metrics', () => {
  it('the API and the worker count real traffic: accepted, sent, latency, throttles, webhooks, HTTP, queue depths', async () => {
    const before = await apiMetrics();
    const phones = [uniquePhone(), uniquePhone(), uniquePhone()];
    // The first send to phones[0] is answered with a bare 429: one throttle pause, then sent.
    await stack.faults({ script: [{ http_429: true, retry_after_s: 1, to: phones[0] as string }] });
    const ids: string[] = [];
    for (const phone of phones) {
      const res = await send(stack, reminder(phone, { immediate: false }));
      expect(res.status).toBe(202);
      ids.push(res.body.id);
    }
    for (const id of ids) await waitFor(async () => (await statusOf(id)) === 'read', { timeoutMs: 30_000, what: `${id} read` });

    const w = await scrape(`${workerUrl}/metrics`);
    const sent = { provider: 'meta', type: 'delivery_reminder', status: 'sent' };
    expect(metric(w, 'herald_messages_total', sent)).toBe(3);
    expect(metric(w, 'herald_send_attempts_total', { provider: 'meta', outcome: 'sent' })).toBe(3);
    expect(metric(w, 'herald_send_attempts_total', { provider: 'meta', outcome: 'throttled' })).toBe(1);
    expect(metric(w, 'herald_throttle_pauses_total', { provider: 'meta' })).toBe(1);
    expect(metric(w, 'herald_throttle_pause_seconds_total', { provider: 'meta' })).toBe(1);
    expect(metric(w, 'herald_send_duration_seconds_count', { provider: 'meta', outcome: 'sent' })).toBe(3);
    expect(metric(w, 'herald_send_duration_seconds_bucket', { provider: 'meta', outcome: 'sent', le: '+Inf' })).toBe(3);
    expect(metric(w, 'herald_status_events_applied_total', { provider: 'meta', status: 'read' })).toBe(3);
    expect(metric(w, 'process_resident_memory_bytes')).toBeGreaterThan(0);

    const after = await apiMetrics();
    const delta = (name: string, labels: Record<string, string>) => metric(after, name, labels) - metric(before, name, labels);
    expect(delta('herald_messages_accepted_total', { provider: 'meta', type: 'delivery_reminder', status: 'queued' })).toBe(3);
    expect(delta('herald_http_requests_total', { method: 'POST', route: '/api/notifications/send-message', status_code: '202' })).toBe(3);
    expect(
      delta('herald_http_request_duration_seconds_count', { method: 'POST', route: '/api/notifications/send-message', status_code: '202' }),
    ).toBe(3);
    // sent, delivered and read for each message; the simulator may redeliver, never fewer.
    expect(delta('herald_webhook_events_total', { provider: 'meta', kind: 'status' })).toBeGreaterThanOrEqual(9);
    expect(delta('herald_webhook_requests_total', { provider: 'meta', outcome: 'accepted' })).toBeGreaterThanOrEqual(9);
    // BullMQ's own export of the queue depths.
    expect(metric(after, 'bullmq_job_count', { queue: 'send', state: 'completed' })).toBeGreaterThanOrEqual(3);
    expect(metric(after, 'bullmq_job_count', { queue: 'send', state: 'waiting' })).toBe(0);
    expect(metric(after, 'herald_sending_paused')).toBe(0);
  });

  it('a bad webhook signature is counted by outcome', async () => {
    const before = await apiMetrics();
    const res = await stack.api.inject({
      method: 'POST',
      url: '/api/v1/whatsapp/webhook',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': 'sha256=00' },
      payload: '{"object":"whatsapp_business_account","entry":[]}',
    });
    expect(res.statusCode).toBe(401);
    const after = await apiMetrics();
    const labels = { provider: 'meta', outcome: 'bad_signature' };
    expect(metric(after, 'herald_webhook_requests_total', labels) - metric(before, 'herald_webhook_requests_total', labels)).toBe(1);
  });
});

describe("the operator's switch", () => {
  it('pause holds every message accepted meanwhile; resume sends them; health and metrics show it', async () => {
    expect((await admin('/api/notifications/sending/pause')).body).toEqual({ sending: 'paused' });
    try {
      const health = await stack.api.inject({ method: 'GET', url: '/api/notifications/health' });
      expect(health.statusCode).toBe(200);
      expect(health.json().sending).toBe('paused');
      expect(metric(await apiMetrics(), 'herald_sending_paused')).toBe(1);
      const ready = (await (await fetch(`${workerUrl}/health/ready`)).json()) as { checks: { sending: string } };
      expect(ready.checks.sending).toBe('paused');

      const phones = [uniquePhone(), uniquePhone(), uniquePhone()];
      const ids: string[] = [];
      for (const phone of phones) {
        const res = await send(stack, reminder(phone, { immediate: false }));
        expect(res.status).toBe(202);
        ids.push(res.body.id);
      }
      await waitFor(async () => metric(await apiMetrics(), 'bullmq_job_count', { queue: 'send', state: 'waiting' }) >= 3, {
        what: 'three waiting jobs in the queue depth',
      });
      // Give a running worker every chance to (wrongly) take them.
      await new Promise((r) => setTimeout(r, 1500));
      for (const id of ids) expect(await statusOf(id)).toBe('queued');
      for (const phone of phones) expect((await simFor(stack, phone)).messages).toHaveLength(0);

      expect((await admin('/api/notifications/sending/resume')).body).toEqual({ sending: 'active' });
      for (const id of ids)
        await waitFor(async () => ['sent', 'delivered', 'read'].includes((await statusOf(id)) ?? ''), { what: `${id} sent` });
      for (const phone of phones) expect((await simFor(stack, phone)).messages).toHaveLength(1);
    } finally {
      await admin('/api/notifications/sending/resume');
    }
  });

  it('only an admin may pause', async () => {
    const res = await stack.api.inject({
      method: 'POST',
      url: '/api/notifications/sending/pause',
      headers: { authorization: `Bearer ${stack.token('service')}` },
    });
    expect(res.statusCode).toBe(403);
    expect(
      (
        await stack.api.inject({
          method: 'GET',
          url: '/api/notifications/sending',
          headers: { authorization: `Bearer ${stack.token('viewer')}` },
        })
      ).json(),
    ).toEqual({
      sending: 'active',
    });
  });
});

describe('health', () => {
  it('liveness answers without touching a dependency; the worker has both probes', async () => {
    const live = await stack.api.inject({ method: 'GET', url: '/api/notifications/health/live' });
    expect(live.statusCode).toBe(200);
    expect((await fetch(`${workerUrl}/health/live`)).status).toBe(200);
    const ready = await fetch(`${workerUrl}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ok', checks: { redis: 'ok', mongo: 'ok', workers: 'ok' } });
  });
});
