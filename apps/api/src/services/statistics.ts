import { dayKey } from '@herald/shared';
import type { Scope } from '@herald/store';
import type { FastifyInstance } from 'fastify';

const dayMs = 86_400_000;

/** Statistics of SPEC 2.2: the store's per-day counters over the window, and the queue's depths. */
export async function computeStatistics(app: FastifyInstance, scope: Scope, days: number, now = new Date()) {
  const to = dayKey(now);
  const from = dayKey(new Date(now.getTime() - (days - 1) * dayMs));
  const [summary, queue] = await Promise.all([
    app.store.statistics.summarise({ from, to, tenant: scope.tenant }),
    app.queues.send.getJobCounts('waiting', 'active', 'delayed', 'failed'),
  ]);
  return {
    days,
    from,
    to,
    ...summary,
    queue: { waiting: queue.waiting ?? 0, active: queue.active ?? 0, delayed: queue.delayed ?? 0, failed: queue.failed ?? 0 },
  };
}
