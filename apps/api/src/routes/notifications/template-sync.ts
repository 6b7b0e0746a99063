import { conflict, jobNames, type TemplateSyncResult, unavailable } from '@herald/shared';
import { Job } from 'bullmq';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { adminOnly } from '../../plugins/auth.ts';
import { errorResponses } from '../schemas.ts';

/** How long the route waits for the worker's sync before answering 202 (the sync goes on). */
const waitMs = 30_000;

const syncResult = z
  .object({
    templates: z.number().int().meta({ description: 'Templates Meta listed' }),
    pages: z.number().int().meta({ description: 'Pages read' }),
    changed: z.number().int().meta({ description: 'Records whose status, quality, reason or category changed (or were new)' }),
    removed: z.number().int().meta({ description: 'Templates Meta no longer lists, now marked DELETED' }),
    synced_at: z.iso.datetime(),
  })
  .meta({ id: 'TemplateSyncResult', example: { templates: 11, pages: 1, changed: 2, removed: 0, synced_at: '2026-01-01T00:00:00.000Z' } });

/**
 * `POST /templates/sync`: reads the account's templates from Meta now. The worker does the reading
 * (the same job its scheduler runs, so a deployment's syncs never overlap); the route queues one
 * and waits for it up to 30 s, answering its counts, or 202 if it is still running.
 */
const route: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/templates/sync',
    {
      preHandler: app.authorize(adminOnly),
      schema: {
        summary: "Read the templates' statuses from Meta now",
        description:
          "Reads every message template of the WhatsApp Business Account (META_WABA_ID) from Meta's Business Management API and records each one's status, quality and reason (the worker also does this at start and every TEMPLATE_SYNC_INTERVAL_MS; webhooks apply changes at once). Answers the counts when the sync finishes within 30 s, else 202 while it goes on. 409 when META_WABA_ID is not set; 503 naming Meta's error when the sync fails.",
        tags: ['templates'],
        response: {
          200: syncResult,
          202: z.object({ status: z.literal('running'), job_id: z.string() }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      if (!app.config.META_WABA_ID) throw conflict('template sync is off: META_WABA_ID is not set');
      const job = await app.queues.templateSync.add(
        jobNames.templateSync,
        { v: 1, reason: 'admin' },
        { removeOnComplete: { count: 20 }, removeOnFail: { count: 20 } },
      );
      const id = job.id as string;
      const deadline = Date.now() + waitMs;
      while (Date.now() < deadline) {
        const current = await Job.fromId<unknown, TemplateSyncResult>(app.queues.templateSync, id);
        if (current?.finishedOn) {
          if (current.failedReason) throw unavailable(`the template sync failed: ${current.failedReason}`);
          // Other APIs reload on the worker's announcement; this one before answering, so that
          // the caller's next send already sees what the sync found.
          await app.providerTemplates.refresh();
          request.log.info(current.returnvalue, 'templates synced on request');
          return reply.code(200).send(current.returnvalue);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      return reply.code(202).send({ status: 'running' as const, job_id: id });
    },
  );
};

export default route;
