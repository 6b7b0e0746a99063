import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { registry } from '@herald/shared';
import type { HeraldWorker } from './worker.ts';

export interface WorkerHttp {
  server: Server;
  port: number;
  close(): Promise<void>;
}

/**
 * The worker's own small HTTP server (WORKER_METRICS_PORT): `/metrics` (Prometheus, this
 * process's registry), `/health/live` (the process answers) and `/health/ready` (Redis and
 * MongoDB answer and the workers run: 503 naming what is down, within 2 s). node:http rather
 * than Fastify: three routes do not justify loading a framework into every worker.
 */
export async function startWorkerHttp(worker: HeraldWorker, host: string, port: number): Promise<WorkerHttp> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (code: number, body: object) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET') return json(405, { error: 'method_not_allowed' });
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        },
        () => json(500, { error: 'internal' }),
      );
      return;
    }
    if (path === '/health/live') return json(200, { status: 'ok' });
    if (path === '/health/ready' || path === '/health') {
      worker.checks().then((checks) => {
        const ok = Object.values(checks).every((v) => v === 'ok' || v === 'active' || v === 'paused');
        json(ok ? 200 : 503, { status: ok ? 'ok' : 'unavailable', checks });
      });
      return;
    }
    json(404, { error: 'not_found' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
