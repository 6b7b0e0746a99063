import { describe, expect, it } from 'vitest';
import {
  below,
  dayKey,
  finalStatuses,
  ladder,
  latencyBucket,
  latencyBuckets,
  messageStatuses,
  rank,
  spanMs,
  statusRetryPlan,
} from '../src/index.ts';

describe('latencyBucket', () => {
  it.each([
    [0, 100],
    [1, 100],
    [100, 100],
    [100.5, 250],
    [101, 250],
    [250, 250],
    [251, 500],
    [999, 1000],
    [1000, 1000],
    [1001, 2500],
    [59_999, 60_000],
    [300_000, 300_000],
    [300_001, 900_000],
    [3_600_000, 3_600_000],
    [3_600_001, 86_400_000],
    [86_400_000, 86_400_000],
  ])('%d ms → %d', (ms, edge) => {
    expect(latencyBucket(ms)).toBe(edge);
  });

  it.each([86_400_001, 7 * 86_400_000, Number.MAX_SAFE_INTEGER, Number.POSITIVE_INFINITY])(
    '%d ms lies beyond the last edge → null',
    (ms) => {
      expect(latencyBucket(ms)).toBeNull();
    },
  );

  it('uses exactly the edges of SPEC 2.2, ascending', () => {
    expect([...latencyBuckets]).toEqual([100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 900000, 3600000, 86400000]);
  });

  it('every edge is its own bucket and the next millisecond is the next bucket', () => {
    latencyBuckets.forEach((edge, i) => {
      expect(latencyBucket(edge)).toBe(edge);
      expect(latencyBucket(edge + 1)).toBe(latencyBuckets[i + 1] ?? null);
    });
  });
});

describe('spanMs', () => {
  it('is the difference in ms', () => {
    expect(spanMs(new Date('2026-01-01T00:00:00.000Z'), new Date('2026-01-01T00:00:01.250Z'))).toBe(1250);
  });

  it('is never negative: a second-resolution provider time before queued_at counts as 0', () => {
    const queuedAt = new Date('2026-01-01T00:00:00.900Z');
    const providerSentAt = new Date('2026-01-01T00:00:00.000Z');
    expect(spanMs(queuedAt, providerSentAt)).toBe(0);
    expect(spanMs(new Date(10_000), new Date(0))).toBe(0);
  });

  it('is 0 for equal times', () => {
    const t = new Date();
    expect(spanMs(t, new Date(t.getTime()))).toBe(0);
  });
});

describe('dayKey', () => {
  it('is the UTC day, whatever the offset the time was written with', () => {
    // 05:00 in India on 1 Feb is still 31 Jan in UTC.
    expect(dayKey(new Date('2026-02-01T05:00:00+05:30'))).toBe('2026-01-31');
    expect(dayKey(new Date('2026-02-01T05:30:00+05:30'))).toBe('2026-02-01');
    expect(dayKey(new Date('2026-01-31T23:59:59.999Z'))).toBe('2026-01-31');
    expect(dayKey(new Date('2026-02-01T00:00:00.000Z'))).toBe('2026-02-01');
    // 20:00 in New York on 31 Dec is already 1 Jan in UTC.
    expect(dayKey(new Date('2025-12-31T20:00:00-05:00'))).toBe('2026-01-01');
  });

  it('is YYYY-MM-DD with zero padding', () => {
    expect(dayKey(new Date(Date.UTC(2026, 0, 5, 12)))).toBe('2026-01-05');
    expect(dayKey(new Date(Date.UTC(2028, 1, 29)))).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });
});

describe('status ladder', () => {
  it('orders scheduled < queued < sending < sent < delivered < read', () => {
    expect([...ladder]).toEqual(['scheduled', 'queued', 'sending', 'sent', 'delivered', 'read']);
    for (let i = 1; i < ladder.length; i++) {
      const lower = ladder[i - 1];
      const higher = ladder[i];
      if (!lower || !higher) throw new Error('ladder index');
      expect(rank(higher)).toBeGreaterThan(rank(lower));
    }
  });

  it('statuses off the ladder rank below every ladder status', () => {
    for (const s of ['failed', 'cancelled', 'suppressed', 'expired'] as const) {
      expect(rank(s)).toBe(-1);
      expect(rank(s)).toBeLessThan(rank('scheduled'));
    }
  });

  it('below(status) lists the statuses a message may move up from', () => {
    expect(below('scheduled')).toEqual([]);
    expect(below('queued')).toEqual(['scheduled']);
    expect(below('sent')).toEqual(['scheduled', 'queued', 'sending']);
    expect(below('delivered')).toEqual(['scheduled', 'queued', 'sending', 'sent']);
    expect(below('read')).toEqual(['scheduled', 'queued', 'sending', 'sent', 'delivered']);
  });

  it('a status is never below itself or anything above it: a late sent never replaces delivered', () => {
    for (const s of ladder) {
      expect(below(s)).not.toContain(s);
      for (const higher of ladder.filter((h) => rank(h) > rank(s))) expect(below(s)).not.toContain(higher);
    }
    expect(below('sent')).not.toContain('delivered');
  });

  it('final statuses are those of SPEC 3 and all are known statuses', () => {
    expect([...finalStatuses].sort()).toEqual(['cancelled', 'expired', 'failed', 'read', 'suppressed']);
    for (const s of finalStatuses) expect(messageStatuses).toContain(s);
  });
});

describe('statusRetryPlan', () => {
  it('retries unknown provider ids quickly at first and for about the configured time in all', () => {
    for (const orphanAfterMs of [2000, 60_000, 600_000]) {
      const { attempts, backoffMs } = statusRetryPlan(orphanAfterMs);
      expect(backoffMs).toBeLessThanOrEqual(250);
      const total = backoffMs * (2 ** (attempts - 1) - 1);
      expect(total).toBeGreaterThanOrEqual(orphanAfterMs);
      expect(total).toBeLessThan(orphanAfterMs * 2 + backoffMs);
    }
  });
});
