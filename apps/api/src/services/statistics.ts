import { dayKey, ENV_SENDER_ID, type MessageDocument, type MessageStatus, messageStatuses } from '@herald/shared';
import type { Scope, Statistics } from '@herald/store';
import type { FastifyInstance } from 'fastify';
import { pendingMessages } from './pending-messages.ts';

const dayMs = 86_400_000;

/**
 * Statistics of SPEC 2.2: the store's per-day counters over the window, the messages accepted but
 * not written yet (their accept jobs), and the queue's depths.
 */
export async function computeStatistics(app: FastifyInstance, scope: Scope, days: number, now = new Date(), sender?: string) {
  const to = dayKey(now);
  const from = dayKey(new Date(now.getTime() - (days - 1) * dayMs));
  const [summary, pending, queue] = await Promise.all([
    app.store.statistics.summarise({ from, to, tenant: scope.tenant, sender }),
    pendingMessages(app, scope),
    app.queues.send.getJobCounts('waiting', 'active', 'delayed', 'failed'),
  ]);
  countPending(
    summary,
    pending.filter((m) => m.day >= from && m.day <= to && (!sender || (m.sender ?? ENV_SENDER_ID) === sender)),
  );
  return {
    days,
    from,
    to,
    ...summary,
    queue: { waiting: queue.waiting ?? 0, active: queue.active ?? 0, delayed: queue.delayed ?? 0, failed: queue.failed ?? 0 },
  };
}

/** Adds messages not yet in the counters (queued, scheduled or suppressed: none moves a rate). */
function countPending(summary: Statistics, pending: MessageDocument[]): void {
  for (const m of pending) {
    summary.total += 1;
    summary.by_status[m.status] += 1;
    let type = summary.by_type.find((t) => t.message_type === m.message_type);
    if (!type) {
      type = { message_type: m.message_type, total: 0, by_status: zero() };
      summary.by_type.push(type);
      summary.by_type.sort((a, b) => a.message_type.localeCompare(b.message_type));
    }
    type.total += 1;
    type.by_status[m.status] += 1;
    const day = summary.by_day.find((d) => d.day === m.day);
    if (day) {
      day.total += 1;
      day.by_status[m.status] += 1;
    }
  }
}

const zero = () => Object.fromEntries(messageStatuses.map((s) => [s, 0])) as Record<MessageStatus, number>;
