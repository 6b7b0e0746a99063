import { Counter, Registry } from 'prom-client';

/**
 * The one Prometheus registry of a Herald process. Every metric is defined here, once, so the API
 * and the worker expose the same names; a process serves `registry.metrics()` on /metrics.
 */
export const registry = new Registry();

/**
 * Webhook requests by provider and what became of them: `accepted` (verified, events queued),
 * `empty` (verified, nothing to apply), `unsigned` (no signature or secret header), `bad_signature`
 * (forged or wrongly keyed), `replayed` (a request or event already taken), `bad_body`.
 * Refused ones changed nothing; this is where they are counted.
 */
export const webhookRequests = new Counter({
  name: 'herald_webhook_requests_total',
  help: 'Provider webhook requests by provider and outcome',
  labelNames: ['provider', 'outcome'] as const,
  registers: [registry],
});

export type WebhookOutcome = 'accepted' | 'empty' | 'unsigned' | 'bad_signature' | 'replayed' | 'bad_body';
