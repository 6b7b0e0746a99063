import { httpDuration, httpRequests, mergeExpositions, registry, sendingPaused } from '@herald/shared';
import fp from 'fastify-plugin';

/** Queue metrics read from Redis at scrape time; a Redis outage must not hang the scrape. */
const queueScrapeTimeoutMs = 1000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.catch(() => undefined),
    new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * HTTP metrics for every route (labelled by route pattern, never the raw URL, so ids and phone
 * numbers stay out of the series) and GET /metrics: this process's registry plus BullMQ's own
 * export of each queue's depth (`bullmq_job_count{queue,state}`).
 */
export default fp(
  async (app) => {
    app.addHook('onResponse', async (request, reply) => {
      const labels = {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status_code: String(reply.statusCode),
      };
      httpRequests.inc(labels);
      httpDuration.observe(labels, reply.elapsedTime / 1000);
    });

    app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
      const [paused, ...queueTexts] = await Promise.all([
        withTimeout(app.queues.send.isPaused(), queueScrapeTimeoutMs),
        ...[app.queues.accept, app.queues.send, app.queues.status].map((q) =>
          withTimeout(q.exportPrometheusMetrics(), queueScrapeTimeoutMs),
        ),
      ]);
      if (paused !== undefined) sendingPaused.set(paused ? 1 : 0);
      const text = mergeExpositions(await registry.metrics(), ...queueTexts.filter((t): t is string => t !== undefined));
      return reply.type(registry.contentType).send(text);
    });
  },
  { name: 'metrics', dependencies: ['queues'] },
);
