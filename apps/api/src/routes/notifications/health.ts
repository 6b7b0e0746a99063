import type { FastifyReply } from 'fastify';
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
  /**
   * Whether send-message and send-bulk take messages now: they need Redis only (accepted messages
   * wait there while MongoDB is away, and reach history when it returns).
   */
  accepting: z.boolean(),
  /** The operator's switch (POST /sending/pause): paused is still healthy, but worth seeing. */
  sending: z.enum(['active', 'paused', 'unknown']),
  /** Senders whose circuit breaker is open or half-open (issue 14): their messages wait, or go to their fallback. */
  breakers: z.object({ not_closed: z.array(z.string()) }),
  version: z.string(),
});

const route: FastifyPluginAsyncZod = async (app) => {
  const readiness = {
    schema: {
      summary: 'Readiness: Redis and MongoDB answer (503 naming the one that does not, within 2 s)',
      tags: ['operations'],
      security: [],
      response: { 200: healthBody, 503: healthBody },
    },
  };
  const ready = async (_request: unknown, reply: FastifyReply) => {
    let paused: boolean | undefined;
    let notClosed: string[] = [];
    const [redis, mongo] = await Promise.all([
      check(async () => {
        await app.redis.ping();
        [paused, notClosed] = await Promise.all([app.queues.send.isPaused(), app.breakers.notClosed()]);
      }),
      check(() => app.store.ping()),
    ]);
    const ok = redis === 'ok' && mongo === 'ok';
    const sending = paused === undefined ? 'unknown' : paused ? 'paused' : 'active';
    return reply.code(ok ? 200 : 503).send({
      status: ok ? 'ok' : 'unavailable',
      checks: { redis, mongo },
      accepting: redis === 'ok',
      sending,
      breakers: { not_closed: notClosed },
      version,
    });
  };
  app.get('/health', readiness, ready);
  app.get('/health/ready', readiness, ready);
  // Liveness touches no dependency: an orchestrator restarting the API because Redis is away
  // would not bring Redis back.
  app.get(
    '/health/live',
    {
      schema: {
        summary: 'Liveness: the process answers',
        tags: ['operations'],
        security: [],
        response: { 200: z.object({ status: z.literal('ok'), version: z.string() }) },
      },
    },
    async () => ({ status: 'ok' as const, version }),
  );
};

export default route;
