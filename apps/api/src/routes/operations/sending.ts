import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { adminOnly, anyRole } from '../../plugins/auth.ts';

const sendingBody = z.object({ sending: z.enum(['active', 'paused']) });

/**
 * The operator's switch (issue 5): pause or resume all sending. It is BullMQ's queue pause, kept
 * in Redis, so every worker process stops taking send jobs and the state outlives restarts.
 * Messages accepted meanwhile are recorded and queued as usual; they go out after resume. Jobs
 * already in flight finish. Status webhooks are still applied.
 */
const route: FastifyPluginAsyncZod = async (app) => {
  const state = async () => ({ sending: (await app.queues.send.isPaused()) ? ('paused' as const) : ('active' as const) });

  app.get(
    '/sending',
    {
      preHandler: app.authorize(anyRole),
      schema: { summary: 'Whether sending is paused', tags: ['operations'], response: { 200: sendingBody } },
    },
    async () => state(),
  );
  app.post(
    '/sending/pause',
    {
      preHandler: app.authorize(adminOnly),
      schema: { summary: 'Pause all sending (every worker)', tags: ['operations'], response: { 200: sendingBody } },
    },
    async (request) => {
      await app.queues.send.pause();
      request.log.warn({ by: request.principal.sub }, 'sending paused by an operator');
      return state();
    },
  );
  app.post(
    '/sending/resume',
    {
      preHandler: app.authorize(adminOnly),
      schema: { summary: 'Resume sending', tags: ['operations'], response: { 200: sendingBody } },
    },
    async (request) => {
      await app.queues.send.resume();
      request.log.warn({ by: request.principal.sub }, 'sending resumed by an operator');
      return state();
    },
  );
};

export default route;
