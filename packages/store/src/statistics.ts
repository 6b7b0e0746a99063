import type { MessageDocument } from '@herald/shared';
import { dayKey, latencyBuckets, type MessageStatus, messageStatuses } from '@herald/shared';
import type { Collection } from 'mongodb';
import { bucketEdges, type DailyStats, type DailyStatsDocument, type LatencySpan, readDailyStats, rebuildDailyStats } from './stats.ts';

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
 * Statistics of SPEC 2.2 from the per-day counters (`notification_stats_daily`, kept with `$inc`
 * by every write of the message store): a 30-day window reads at most 30 × types × tenants small
 * documents, whatever the number of messages.
 */
export class StatisticsStore {
  readonly #messages: Collection<MessageDocument>;
  readonly #stats: DailyStats;

  constructor(messages: Collection<MessageDocument>, stats: DailyStats) {
    this.#messages = messages;
    this.#stats = stats;
  }

  /** Counts, rates, latencies, per type and per day over UTC days `from`..`to` (both included). */
  async summarise(window: { from: string; to: string; tenant?: string | undefined; sender?: string | undefined }) {
    const { from, to } = window;
    const counters = await readDailyStats(this.#stats.collection, from, to, window.tenant, window.sender);
    const latency = (span: LatencySpan): Latency => {
      let n = 0;
      let sum = 0;
      const buckets = new Map<number | null, number>();
      for (const c of counters) {
        const l = c[span];
        if (!l) continue;
        // A field whose every change summed to zero was never written (zero increments are dropped).
        n += l.n ?? 0;
        sum += l.sum_ms ?? 0;
        for (const { edge, key } of bucketEdges) buckets.set(edge, (buckets.get(edge) ?? 0) + (l.buckets?.[key] ?? 0));
        buckets.set(null, (buckets.get(null) ?? 0) + (l.buckets?.over ?? 0));
      }
      return { mean: n === 0 ? null : sum / n, p95: p95FromBuckets(buckets) };
    };
    const queuedToSent = latency('queued_to_sent');
    const sentToDelivered = latency('sent_to_delivered');

    const byStatus = zeroCounts();
    const byType = new Map<string, { total: number; by_status: Counts }>();
    const byDay = new Map<string, { total: number; by_status: Counts }>();
    for (let t = new Date(`${from}T00:00:00Z`).getTime(); dayKey(new Date(t)) <= to; t += dayMs) {
      byDay.set(dayKey(new Date(t)), { total: 0, by_status: zeroCounts() });
    }
    let total = 0;
    for (const { day, message_type: type, by_status } of counters) {
      for (const [key, n = 0] of Object.entries(by_status)) {
        const status = key as MessageStatus;
        if (!(status in byStatus) || n === 0) continue;
        total += n;
        byStatus[status] += n;
        const t = byType.get(type) ?? { total: 0, by_status: zeroCounts() };
        t.total += n;
        t.by_status[status] += n;
        byType.set(type, t);
        const d = byDay.get(day);
        if (d) {
          d.total += n;
          d.by_status[status] += n;
        }
      }
    }

    const sentOrBeyond = byStatus.sent + byStatus.delivered + byStatus.read;
    const deliveredOrRead = byStatus.delivered + byStatus.read;
    return {
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
    };
  }

  /**
   * Recomputes every counter from the messages (`pnpm stats:rebuild`): the repair after a crash
   * between a message write and its counter write. Returns the number of counter documents.
   */
  rebuild(): Promise<number> {
    return rebuildDailyStats(this.#messages, this.#stats.collection);
  }

  /** Resolves once every counter change taken so far is written. */
  idle(): Promise<void> {
    return this.#stats.idle();
  }

  /** The raw counter documents of a window (inspection). */
  counters(from: string, to: string, tenant?: string): Promise<DailyStatsDocument[]> {
    return readDailyStats(this.#stats.collection, from, to, tenant) as Promise<DailyStatsDocument[]>;
  }
}

export type Statistics = Awaited<ReturnType<StatisticsStore['summarise']>>;
