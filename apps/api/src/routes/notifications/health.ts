import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { version } from '../../version.ts';

const checkTimeoutMs = 1500;

/** Resolves "ok" or "down" within the time limit, whatever the dependency does. */
async function check(probe: () => Promise<unknown>): Promise<'ok' | 'down'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'down'>((resolve) => {
    timer = setTimeout(() => resolve('down'), checkTimeoutMs);
  });
  try {
    return await Promise.race([probe().then(() => 'ok' as const), timeout]);
  } catch {
    return 'down';
  } finally {
    clearTimeout(timer);
  }
}

const healthBody = z.object({
  status: z.enum(['ok', 'unavailable']),
  checks: z.object({ redis: z.enum(['ok', 'down']), mongo: z.enum(['ok', 'down']) }),
  version: z.string(),
});

const route: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/health',
    {
      schema: {
        summary: 'Readiness: Redis and MongoDB answer',
        tags: ['operations'],
        security: [],
        response: { 200: healthBody, 503: healthBody },
      },
    },
    async (_request, reply) => {
      const [redis, mongo] = await Promise.all([check(() => app.redis.ping()), check(() => app.mongo.db.command({ ping: 1 }))]);
      const ok = redis === 'ok' && mongo === 'ok';
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', checks: { redis, mongo }, version });
    },
  );
};

export default route;
