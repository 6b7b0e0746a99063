import { dayKey, latencyBuckets, type MessageDocument, type MessageStatus, messageStatuses } from '@herald/shared';
import type { FastifyInstance } from 'fastify';
import type { Document, Filter } from 'mongodb';

type Counts = Record<MessageStatus, number>;
const zeroCounts = (): Counts => Object.fromEntries(messageStatuses.map((s) => [s, 0])) as Counts;

const dayMs = 86_400_000;

export interface Latency {
  mean: number | null;
  p95: number | null;
}

/**
 * p95 is the upper edge of the bucket that holds the 95th percentile; null when it lies in the
 * overflow beyond the last edge (bucket `null`) or there is nothing to measure.
 */
export function p95FromBuckets(counts: Map<number | null, number>): number | null {
  let total = 0;
  for (const n of counts.values()) total += n;
  if (total === 0) return null;
  const target = Math.ceil(total * 0.95);
  let seen = 0;
  for (const edge of latencyBuckets) {
    seen += counts.get(edge) ?? 0;
    if (seen >= target) return edge;
  }
  return null;
}

const ratio = (num: number, den: number) => (den === 0 ? null : num / den);

/**
 * Statistics of SPEC 2.2 with only what FerretDB 1.24 runs correctly: $match on the stored day key
 * and one $group with a single $sum accumulator per pipeline (FerretDB computes only the first of
 * several). Counts come from one pipeline grouped by (day, status, type); each latency needs two
 * (bucket counts, and the sum of spans).
 */
export async function computeStatistics(app: FastifyInstance, scope: Filter<MessageDocument>, days: number, now = new Date()) {
  const to = dayKey(now);
  const from = dayKey(new Date(now.getTime() - (days - 1) * dayMs));
  const match: Document = { ...scope, day: { $gte: from, $lte: to } };
  const messages = app.mongo.messages;

  const latency = async (field: 'queued_to_sent' | 'sent_to_delivered'): Promise<Latency> => {
    const ms = `${field}_ms`;
    const [buckets, sums] = await Promise.all([
      messages
        .aggregate<{ _id: number | null; n: number }>([
          { $match: { ...match, [ms]: { $exists: true } } },
          { $group: { _id: `$${field}_bucket`, n: { $sum: 1 } } },
        ])
        .toArray(),
      messages
        .aggregate<{ _id: null; s: number }>([
          { $match: { ...match, [ms]: { $exists: true } } },
          { $group: { _id: null, s: { $sum: `$${ms}` } } },
        ])
        .toArray(),
    ]);
    const counts = new Map<number | null, number>(buckets.map((b) => [b._id ?? null, b.n]));
    let n = 0;
    for (const c of counts.values()) n += c;
    return { mean: n === 0 ? null : (sums[0]?.s ?? 0) / n, p95: p95FromBuckets(counts) };
  };

  const [groups, queuedToSent, sentToDelivered, queue] = await Promise.all([
    messages
      .aggregate<{ _id: { day: string; status: MessageStatus; type: string }; n: number }>([
        { $match: match },
        { $group: { _id: { day: '$day', status: '$status', type: '$message_type' }, n: { $sum: 1 } } },
      ])
      .toArray(),
    latency('queued_to_sent'),
    latency('sent_to_delivered'),
    app.queues.send.getJobCounts('waiting', 'active', 'delayed', 'failed'),
  ]);

  const byStatus = zeroCounts();
  const byType = new Map<string, { total: number; by_status: Counts }>();
  const byDay = new Map<string, { total: number; by_status: Counts }>();
  for (let t = new Date(`${from}T00:00:00Z`).getTime(); dayKey(new Date(t)) <= to; t += dayMs) {
    byDay.set(dayKey(new Date(t)), { total: 0, by_status: zeroCounts() });
  }
  let total = 0;
  for (const g of groups) {
    const { day, status, type } = g._id;
    if (!(status in byStatus)) continue;
    total += g.n;
    byStatus[status] += g.n;
    const t = byType.get(type) ?? { total: 0, by_status: zeroCounts() };
    t.total += g.n;
    t.by_status[status] += g.n;
    byType.set(type, t);
    const d = byDay.get(day);
    if (d) {
      d.total += g.n;
      d.by_status[status] += g.n;
    }
  }

  const sentOrBeyond = byStatus.sent + byStatus.delivered + byStatus.read;
  const deliveredOrRead = byStatus.delivered + byStatus.read;
  return {
    days,
    from,
    to,
    total,
    by_status: byStatus,
    rates: {
      success: ratio(sentOrBeyond, sentOrBeyond + byStatus.failed + byStatus.expired),
      delivery: ratio(deliveredOrRead, sentOrBeyond),
      read: ratio(byStatus.read, deliveredOrRead),
    },
    latency_ms: { queued_to_sent: queuedToSent, sent_to_delivered: sentToDelivered },
    by_type: [...byType.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([message_type, v]) => ({ message_type, total: v.total, by_status: v.by_status })),
    by_day: [...byDay.entries()].map(([day, v]) => ({ day, total: v.total, by_status: v.by_status })),
    queue: { waiting: queue.waiting ?? 0, active: queue.active ?? 0, delayed: queue.delayed ?? 0, failed: queue.failed ?? 0 },
  };
}
