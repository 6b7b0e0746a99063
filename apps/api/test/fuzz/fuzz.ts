import { createHmac } from 'node:crypto';
import { fastifyOptions, app as heraldApi, mintToken } from '@herald/api';
import { createRedis } from '@herald/shared';
import { connectStore } from '@herald/store';
import { dropHeraldData, testConfig, testSecrets } from '@herald/test-utils';
import fc from 'fast-check';
import Fastify from 'fastify';
import { type FuzzRoute, fuzzRoutes, nasty } from './routes.ts';

export interface FuzzOptions {
  /** Generated requests in all, shared evenly by the routes. */
  numRuns: number;
  seed?: number;
  routes?: FuzzRoute[];
  log?: (line: string) => void;
}

export interface FuzzReport {
  requests: number;
  byStatus: Record<string, number>;
  accepted: number;
  seed: number;
}

/** Header values must be sendable at all (visible ASCII); what they say is up to the fuzzer. */
const headerSafe = nasty.map((s) => s.replace(/[^\x20-\x7e]/g, '').slice(0, 200));

const requestShape = fc.record({
  token: fc.constantFrom('right', 'right', 'right', 'wrong-role', 'garbage', 'none'),
  contentType: fc.constantFrom(
    'application/json',
    'application/json',
    'application/json; charset=utf-8',
    'text/plain',
    'application/x-www-form-urlencoded',
    'application/octet-stream',
  ),
  idempotencyKey: fc.option(headerSafe, { nil: undefined }),
  requestId: fc.option(headerSafe, { nil: undefined }),
  /** Sometimes the body is not even JSON. */
  rawBody: fc.option(
    fc.oneof(fc.string({ maxLength: 200 }), fc.constantFrom('{', '[', 'null', '{"a":', '\u0000', '{"__proto__":{"x":1}}')),
    { nil: undefined, freq: 8 },
  ),
  signature: fc.constantFrom('right', 'right', 'wrong', 'none', 'malformed'),
});

class Violation extends Error {}

/**
 * Builds a real API (real MongoDB-wire server and Redis, own database) and throws generated
 * requests at every route of the table. Fails (fast-check shrinks to the smallest case) on a 5xx,
 * on a 4xx that is not the error envelope naming the problem, or when a message exists that no
 * 2xx answer accounts for.
 */
export async function runFuzz(opts: FuzzOptions): Promise<FuzzReport> {
  const config = testConfig({
    IMMEDIATE_WAIT_MS: '0',
    RATE_LIMIT_TOKEN_MAX: '10000000',
    RATE_LIMIT_IP_MAX: '10000000',
    RATE_LIMIT_WEBHOOK_MAX: '10000000',
    // Senders can be stored (a valid create is a 201, not a 503 for want of a key).
    SENDER_KEYS: `fuzz:${Buffer.alloc(32, 7).toString('base64')}`,
  });
  const app = Fastify({ ...fastifyOptions, logger: false });
  await app.register(heraldApi, { config });
  await app.ready();
  const redis = createRedis(config);
  const store = await connectStore({ url: config.MONGO_URL, locks: { redis, prefix: config.QUEUE_PREFIX } });
  const seed = opts.seed ?? Date.now() % 2_147_483_647;
  const routes = opts.routes ?? fuzzRoutes;
  const perRoute = Math.max(1, Math.ceil(opts.numRuns / routes.length));
  const accepted = new Set<string>();
  const byStatus: Record<string, number> = {};
  let requests = 0;
  const token = (role: string) => mintToken(config.JWT_SECRET as string, { sub: 'fuzz', role }, 3_600_000);

  try {
    for (const route of routes) {
      const arb = fc.record({
        path: route.path,
        query: route.query ?? fc.constant(undefined),
        body: route.body ?? fc.constant(undefined),
        shape: requestShape,
      });
      await fc.assert(
        fc.asyncProperty(arb, async ({ path, query, body, shape }) => {
          const headers: Record<string, string> = {};
          if (route.auth !== 'none' && route.auth !== 'meta') {
            if (shape.token === 'right') headers.authorization = `Bearer ${token(route.auth)}`;
            if (shape.token === 'wrong-role') headers.authorization = `Bearer ${token(route.auth === 'viewer' ? 'nobody' : 'viewer')}`;
            if (shape.token === 'garbage') headers.authorization = 'Bearer eyJhbGciOiJub25lIn0.e30.';
          }
          if (shape.idempotencyKey !== undefined) headers['idempotency-key'] = shape.idempotencyKey;
          if (shape.requestId !== undefined) headers['x-request-id'] = shape.requestId;
          let payload: string | undefined;
          if (route.method === 'POST' || route.method === 'PUT' || route.method === 'PATCH') {
            payload = shape.rawBody ?? JSON.stringify(body ?? null);
            headers['content-type'] = shape.contentType;
          }
          if (route.auth === 'meta' && payload !== undefined) {
            const mac = createHmac('sha256', testSecrets.META_APP_SECRET).update(payload).digest('hex');
            if (shape.signature === 'right') headers['x-hub-signature-256'] = `sha256=${mac}`;
            if (shape.signature === 'wrong') headers['x-hub-signature-256'] = `sha256=${'0'.repeat(64)}`;
            if (shape.signature === 'malformed') headers['x-hub-signature-256'] = 'sha256=zz';
          }
          const res = await app.inject({
            method: route.method,
            url: path,
            headers,
            ...(query ? { query } : {}),
            ...(payload !== undefined ? { payload } : {}),
          });
          requests += 1;
          byStatus[res.statusCode] = (byStatus[res.statusCode] ?? 0) + 1;
          const where = `${route.method} ${path} → ${res.statusCode} ${res.body.slice(0, 300)}`;
          if (res.statusCode >= 500) throw new Violation(`5xx: ${where}`);
          if (res.statusCode >= 400) {
            let parsed: { error?: unknown; message?: unknown; issues?: unknown };
            try {
              parsed = res.json();
            } catch {
              throw new Violation(`4xx without a JSON envelope: ${where}`);
            }
            if (typeof parsed.error !== 'string' || typeof parsed.message !== 'string' || parsed.message.length === 0) {
              throw new Violation(`4xx envelope lacks error/message: ${where}`);
            }
            if (parsed.issues !== undefined) {
              const ok =
                Array.isArray(parsed.issues) &&
                parsed.issues.every(
                  (i: { path?: unknown; message?: unknown }) => typeof i.path === 'string' && typeof i.message === 'string',
                );
              if (!ok) throw new Violation(`4xx issues do not name a path and a message: ${where}`);
            }
          } else if (route.name === 'send-message') {
            const id = (res.json() as { id?: string }).id;
            if (id) accepted.add(id);
          }
        }),
        { numRuns: perRoute, seed, endOnFailure: true },
      );
      opts.log?.(`${route.name}: ${perRoute} requests, no violation`);
    }
    // No message without a 2xx that accounts for it.
    const ids = (await store.messages.list({}, 1_000_000)).map((d) => d._id);
    const unaccounted = ids.filter((id) => !accepted.has(id));
    if (unaccounted.length > 0) throw new Violation(`messages recorded without a 2xx answer: ${unaccounted.slice(0, 5).join(', ')}`);
    return { requests, byStatus, accepted: accepted.size, seed };
  } finally {
    await app.close();
    await store.close();
    await redis.quit();
    await dropHeraldData(config);
  }
}
