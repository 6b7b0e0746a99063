import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics of every Herald process (SPEC 7). One registry per process: the API serves
 * it at /metrics, each worker on its own port (WORKER_METRICS_PORT). Names follow Prometheus
 * conventions: `herald_` prefix, `_total` counters, base units (`_seconds`, `_bytes`).
 * Labels stay low-cardinality: provider, message type, status, route pattern — never a phone
 * number, a message id or a raw URL.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

/**
 * Webhook requests by provider and what became of them: `accepted` (verified, events queued),
 * `empty` (verified, nothing to apply), `unsigned` (no signature or secret header), `bad_signature`
 * (forged or wrongly keyed), `replayed` (a request or event already taken), `bad_body`,
 * `unavailable` (Redis down: the provider will retry), `not_configured` (answered 404: no secret for that
 * provider here), `unknown_sender` (answered 404: no sender here has the number or account the
 * webhook names, docs/providers.md). Refused ones changed nothing.
 */
export const webhookRequests = new Counter({
  name: 'herald_webhook_requests_total',
  help: 'Provider webhook requests received, by provider and outcome',
  labelNames: ['provider', 'outcome'] as const,
  registers: [registry],
});

export type WebhookOutcome =
  | 'accepted'
  | 'empty'
  | 'unsigned'
  | 'bad_signature'
  | 'replayed'
  | 'bad_body'
  | 'unavailable'
  | 'not_configured'
  | 'unknown_sender';

/** Status events and inbound messages taken from verified webhooks and queued. */
export const webhookEvents = new Counter({
  name: 'herald_webhook_events_total',
  help: 'Status events and inbound messages queued from verified webhooks, by provider and kind',
  labelNames: ['provider', 'kind'] as const,
  registers: [registry],
});

/** Messages the API accepted, by the status they were recorded with (queued, scheduled, suppressed). */
export const messagesAccepted = new Counter({
  name: 'herald_messages_accepted_total',
  help: 'Messages accepted by the API, by provider, type and initial status',
  labelNames: ['provider', 'type', 'status'] as const,
  registers: [registry],
});

/**
 * Messages that reached a final status of the send stage in a worker: sent, failed, expired, and
 * suppressed (the recipient opted out after the message was accepted).
 */
export const messagesFinished = new Counter({
  name: 'herald_messages_total',
  help: 'Messages that reached a final send status in this worker (sent, failed, expired, suppressed), by provider and type',
  labelNames: ['provider', 'type', 'status'] as const,
  registers: [registry],
});

/** Status updates applied from webhooks (delivered, read, failed after sending…). */
export const statusUpdates = new Counter({
  name: 'herald_status_events_applied_total',
  help: 'Provider status events applied to message records, by provider and status',
  labelNames: ['provider', 'status'] as const,
  registers: [registry],
});

/** Writes of status events to message records: coalesced events of one message are one write. */
export const statusWrites = new Counter({
  name: 'herald_status_writes_total',
  help: 'Message records written with status events (events for one message within the coalescing window are one write)',
  registers: [registry],
});

/**
 * From the API receiving an inbound opt-out (or opt-in) keyword to the recipient's setting being
 * written and every process told to drop its cached copy: how long a STOP takes to be obeyed.
 * Start and end are read on different hosts' clocks when the API and the worker run apart.
 */
export const optOutEffect = new Histogram({
  name: 'herald_opt_out_effect_seconds',
  help: 'Time from an inbound opt-out/opt-in webhook reaching the API to the setting written and announced, by provider and direction (out, in)',
  labelNames: ['provider', 'direction'] as const,
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
  registers: [registry],
});

/** Every send attempt and how it ended. */
export const sendAttemptsCounter = new Counter({
  name: 'herald_send_attempts_total',
  help: 'Send attempts, by provider and outcome (sent, retry, failed, throttled, delayed, expired)',
  labelNames: ['provider', 'outcome'] as const,
  registers: [registry],
});

/** How long the provider took to answer one send. */
export const sendDuration = new Histogram({
  name: 'herald_send_duration_seconds',
  help: 'Provider send request duration, by provider and outcome',
  labelNames: ['provider', 'outcome'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

/** From accepted (or due) to accepted by the provider. */
export const queuedToSent = new Histogram({
  name: 'herald_message_queued_to_sent_seconds',
  help: 'Time from a message being due to the provider accepting it, by provider',
  labelNames: ['provider'] as const,
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
  registers: [registry],
});

/** Throttling answers that paused the send queue, and for how long. */
export const throttlePauses = new Counter({
  name: 'herald_throttle_pauses_total',
  help: 'Times a provider throttle paused the send queue, by provider',
  labelNames: ['provider'] as const,
  registers: [registry],
});
export const throttlePauseSeconds = new Counter({
  name: 'herald_throttle_pause_seconds_total',
  help: 'Total length of the send-queue pauses a provider throttle caused, by provider',
  labelNames: ['provider'] as const,
  registers: [registry],
});

/**
 * Per sender (a sender id, never a number or a credential; one series per configured sender):
 * messages the provider accepted, throttling answers, the pauses they started and their length,
 * and send jobs that waited in the delayed set for their sender's next slot.
 */
export const senderSends = new Counter({
  name: 'herald_sender_sends_total',
  help: 'Messages the provider accepted, by sender',
  labelNames: ['sender'] as const,
  registers: [registry],
});
export const senderThrottles = new Counter({
  name: 'herald_sender_throttles_total',
  help: 'Throttling answers (429 and the provider codes for it), by sender',
  labelNames: ['sender'] as const,
  registers: [registry],
});
export const senderPauses = new Counter({
  name: 'herald_sender_pauses_total',
  help: 'Pauses of one sender started by a throttling answer, by sender',
  labelNames: ['sender'] as const,
  registers: [registry],
});
export const senderPauseSeconds = new Counter({
  name: 'herald_sender_pause_seconds_total',
  help: 'Total length of the pauses throttling answers started, by sender',
  labelNames: ['sender'] as const,
  registers: [registry],
});
export const senderPaceDeferrals = new Counter({
  name: 'herald_sender_pace_deferrals_total',
  help: "Send jobs moved to the delayed set until their sender's next free slot, by sender",
  labelNames: ['sender'] as const,
  registers: [registry],
});

/** HTTP requests served (API), by route pattern. */
/** Issue 14: sends whose outcome was unknown, and how each wait ended. */
export const sendUnknownOutcomes = new Counter({
  name: 'herald_send_unknown_outcomes_total',
  help: 'Send attempts whose outcome was unknown (request sent, no answer; or a worker died mid-send), by provider',
  labelNames: ['provider'] as const,
  registers: [registry],
});
export const sendUnknownResolved = new Counter({
  name: 'herald_send_unknown_resolved_total',
  help: 'How waits on an unknown outcome ended: proved (a webhook showed the provider took it, no retry), retried, failed (no attempts left)',
  labelNames: ['provider', 'resolution'] as const,
  registers: [registry],
});
export const senderBreakerState = new Gauge({
  name: 'herald_sender_breaker_state',
  help: "A sender's circuit breaker as this worker last saw it: 0 closed, 1 half-open, 2 open",
  labelNames: ['sender'] as const,
  registers: [registry],
});
export const senderBreakerTransitions = new Counter({
  name: 'herald_sender_breaker_transitions_total',
  help: 'Circuit breaker transitions made by this worker, by sender and new state',
  labelNames: ['sender', 'to'] as const,
  registers: [registry],
});
export const senderBreakerDeferrals = new Counter({
  name: 'herald_sender_breaker_deferrals_total',
  help: "Send jobs moved to the delayed set because their sender's breaker was open and no fallback could take them",
  labelNames: ['sender'] as const,
  registers: [registry],
});
export const sendFailovers = new Counter({
  name: 'herald_send_failovers_total',
  help: "Attempts sent through a sender's fallback while its breaker was open",
  labelNames: ['from', 'to'] as const,
  registers: [registry],
});

export const httpRequests = new Counter({
  name: 'herald_http_requests_total',
  help: 'HTTP requests, by method, route pattern and status code',
  labelNames: ['method', 'route', 'status_code'] as const,
  registers: [registry],
});
export const httpDuration = new Histogram({
  name: 'herald_http_request_duration_seconds',
  help: 'HTTP request duration, by method, route pattern and status code',
  labelNames: ['method', 'route', 'status_code'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry],
});

/** 1 while an operator has paused all sending (read from Redis at scrape time). */
export const sendingPaused = new Gauge({
  name: 'herald_sending_paused',
  help: '1 while an operator has paused all sending, else 0',
  registers: [registry],
});

/**
 * Joins Prometheus text expositions (prom-client's and BullMQ's `exportPrometheusMetrics`, one per
 * queue) into one valid document: each metric's HELP/TYPE once, its samples together.
 */
export function mergeExpositions(...texts: string[]): string {
  const order: string[] = [];
  const blocks = new Map<string, { meta: string[]; samples: string[] }>();
  const block = (name: string) => {
    let b = blocks.get(name);
    if (!b) {
      b = { meta: [], samples: [] };
      blocks.set(name, b);
      order.push(name);
    }
    return b;
  };
  let current = '';
  for (const text of texts) {
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      const meta = /^# (HELP|TYPE) (\S+)/.exec(line);
      if (meta) {
        current = meta[2] as string;
        const b = block(current);
        if (!b.meta.some((m) => m.startsWith(`# ${meta[1]} `))) b.meta.push(line);
        continue;
      }
      if (line.startsWith('#')) continue;
      const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0] ?? '';
      // Histogram samples (_bucket, _sum, _count) belong to the metric declared above them.
      const owner = current && name.startsWith(current) ? current : name;
      block(owner).samples.push(line);
    }
  }
  return `${order.flatMap((name) => [...(blocks.get(name)?.meta ?? []), ...(blocks.get(name)?.samples ?? [])]).join('\n')}\n`;
}

/** Statistics counter writes that failed after their message write (`pnpm stats:rebuild` repairs). */
export const statsCounterErrors = new Counter({
  name: 'herald_stats_counter_errors_total',
  help: 'Per-day statistics counter updates that failed after the message was written',
  registers: [registry],
});
