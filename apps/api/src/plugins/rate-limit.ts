import { createHash } from 'node:crypto';
import fastifyRateLimit from '@fastify/rate-limit';
import { HeraldError } from '@herald/shared';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { pipelinedRedisStore } from './rate-limit-store.ts';

/** Never limited: probes must answer while Redis is away, and scrapers poll on a schedule. */
const exempt = ['/api/notifications/health', '/metrics'];

/**
 * Request rate limits (@fastify/rate-limit), counted in Redis so every API instance shares them
 * (one pipeline per turn of the event loop: rate-limit-store.ts):
 * a caller with a valid token is counted per token subject (`RATE_LIMIT_TOKEN_MAX` per window),
 * anyone else per IP (`RATE_LIMIT_IP_MAX`; webhooks `RATE_LIMIT_WEBHOOK_MAX`). Garbage tokens do
 * not buy a fresh bucket: an unverifiable token counts against the IP. Over the limit: 429
 * `rate_limited` with Retry-After (seconds). If Redis fails, requests pass (the routes that need
 * Redis answer 503 themselves).
 */
export default fp(
  async (app) => {
    const { config } = app;
    /** Subject → its counter key (hashing it on every request showed in the profile). Bounded. */
    const subjectKeys = new Map<string, string>();
    const tokenKey = (request: FastifyRequest): string | undefined => {
      const header = request.headers.authorization;
      const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
      if (!match) return undefined;
      try {
        const payload = app.jwtKeys.verify(match[1] as string) as { sub?: unknown; tenant?: unknown };
        const id = `${String(payload.tenant ?? 'default')}|${String(payload.sub)}`;
        let key = subjectKeys.get(id);
        if (!key) {
          if (subjectKeys.size >= 10_000) subjectKeys.clear();
          key = `tok:${createHash('sha256').update(id).digest('hex').slice(0, 24)}`;
          subjectKeys.set(id, key);
        }
        return key;
      } catch {
        return undefined;
      }
    };
    await app.register(fastifyRateLimit, {
      global: true,
      store: pipelinedRedisStore(app.redis, `${config.QUEUE_PREFIX}:rl:`),
      timeWindow: config.RATE_LIMIT_WINDOW_MS,
      skipOnError: true,
      allowList: (request) => exempt.includes(request.url.split('?')[0] ?? ''),
      keyGenerator: (request) => {
        const token = tokenKey(request);
        if (token) return token;
        const hook = request.url.startsWith('/api/v1/') ? 'hook:' : '';
        return `${hook}ip:${request.ip}`;
      },
      max: (_request, key) =>
        key.startsWith('tok:')
          ? config.RATE_LIMIT_TOKEN_MAX
          : key.startsWith('hook:')
            ? config.RATE_LIMIT_WEBHOOK_MAX
            : config.RATE_LIMIT_IP_MAX,
      errorResponseBuilder: (_request, context) =>
        new HeraldError(
          'rate_limited',
          `rate limit of ${context.max} requests per ${context.after} exceeded; retry in ${Math.ceil(context.ttl / 1000)} s`,
        ),
    });
  },
  { name: 'rate-limit', dependencies: ['config', 'queues', 'auth'] },
);
