import type { SimulatorState } from './state.ts';
import { type PlannedStatus, planStatusWebhooks } from './status-plan.ts';
import type { MessageRecord, WebhookRecord } from './store.ts';
import type { OutgoingWebhook } from './webhook-dispatcher.ts';

/**
 * Plans and schedules one accepted message's status webhooks under the current webhook faults
 * (dropped, duplicated, reordered), recording each on the message. `build` signs the webhook the
 * provider's way when it is due; `sequence` counts the message's webhooks for providers that
 * number their events. `timedOut`: the send was answered too late (a timeout fault); with the
 * `webhooks.timed_out: false` fault none of its webhooks is posted.
 */
export function scheduleStatuses(
  state: SimulatorState,
  record: MessageRecord,
  build: (status: PlannedStatus, sequence: number, errorCode?: number) => OutgoingWebhook,
  timedOut = false,
): void {
  const { faults, options, store, dispatcher } = state;
  const dropAll = timedOut && !faults.faults.webhooks.timed_out;
  let sequence = 0;
  for (const planned of planStatusWebhooks(faults.faults.webhooks, options.webhookDelaysMs, options.random)) {
    sequence++;
    const dropped = planned.dropped || dropAll;
    const first = newWebhookRecord(planned.status, dropped, false);
    record.webhooks.push(first);
    if (dropped) {
      store.counters.webhooks.dropped++;
      continue;
    }
    const records = [first];
    if (planned.duplicated) {
      const second = newWebhookRecord(planned.status, false, true);
      record.webhooks.push(second);
      records.push(second);
      store.counters.webhooks.duplicated++;
    }
    const n = sequence;
    dispatcher.schedule(planned.delayMs, records, () => build(planned.status, n, planned.errorCode));
  }
}

function newWebhookRecord(status: string, dropped: boolean, duplicate: boolean): WebhookRecord {
  return { status, delivered: false, attempts: 0, dropped, duplicate, last_result: null };
}
