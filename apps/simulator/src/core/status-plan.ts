import type { DeliveryStatus, StatusDelaysMs } from '../options.ts';
import type { WebhookFaults } from './faults.ts';

export type PlannedStatus = DeliveryStatus | 'failed';

export interface PlannedWebhook {
  status: PlannedStatus;
  /** After acceptance, in ms. */
  delayMs: number;
  /** Provider error code carried by a `failed` status. */
  errorCode?: number;
  /** Never posted (drop_rate). */
  dropped: boolean;
  /** Posted twice (duplicate_rate). */
  duplicated: boolean;
}

/** Which status webhooks one accepted message gets, when, and which faults hit them. */
export function planStatusWebhooks(faults: WebhookFaults, defaultDelays: StatusDelaysMs, random: () => number): PlannedWebhook[] {
  const delays = faults.delays_ms ?? defaultDelays;
  let plan: Array<{ status: PlannedStatus; delayMs: number; errorCode?: number }>;
  if (faults.fail && random() < faults.fail.rate) {
    // A failed message never reaches delivered or read; its failure arrives when delivery would have.
    plan = faults.statuses.includes('sent') ? [{ status: 'sent', delayMs: delays.sent }] : [];
    plan.push({ status: 'failed', delayMs: delays.delivered, errorCode: faults.fail.code });
  } else {
    plan = faults.statuses.map((status) => ({ status, delayMs: delays[status] }));
  }
  plan.sort((a, b) => a.delayMs - b.delayMs);
  if (faults.reorder) {
    // Keep the same moments but hand them out backwards, so the last status arrives first.
    const moments = plan.map((step) => step.delayMs);
    plan.reverse();
    plan.forEach((step, i) => {
      step.delayMs = moments[i] ?? step.delayMs;
    });
  }
  return plan.map((step) => ({
    ...step,
    dropped: faults.drop_rate > 0 && random() < faults.drop_rate,
    duplicated: faults.duplicate_rate > 0 && random() < faults.duplicate_rate,
  }));
}
