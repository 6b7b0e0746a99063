import {
  type Config,
  type InboundJob,
  inboundJob,
  keywordIntent,
  maskPhone,
  normalizePhone,
  type OptOutCache,
  optOutEffect,
} from '@herald/shared';
import type { Store } from '@herald/store';
import { type Job, UnrecoverableError } from 'bullmq';
import type { Logger } from 'pino';

export interface InboundDeps {
  /** Recipients' settings: an opt-out or opt-in keyword is written there. */
  store: Store;
  /** Every process's cached preferences: told right after each write. */
  optOut: Pick<OptOutCache, 'invalidate'>;
  /** OPT_OUT_KEYWORDS, OPT_IN_KEYWORDS; DEFAULT_COUNTRY for a sender written without its code. */
  config: Pick<Config, 'OPT_OUT_KEYWORDS' | 'OPT_IN_KEYWORDS' | 'DEFAULT_COUNTRY'>;
  log: Logger;
}

/**
 * Applies the inbound messages of one webhook request: an opt-out keyword (STOP, UNSUBSCRIBE, …)
 * sets the sender's `opted_out`, an opt-in keyword (START) clears it, anything else changes
 * nothing. Each write is followed at once by the cache invalidation every process listens for, so
 * sends already queued for that number are suppressed from then on; the time from the webhook
 * reaching the API to this point is `herald_opt_out_effect_seconds`. A failed write (database
 * away) fails the job, whose retries (inboundJobOptions) apply it later.
 */
export function createInboundProcessor(deps: InboundDeps) {
  const { store, optOut, config, log } = deps;

  return async function processInbound(job: Job<InboundJob>): Promise<{ applied: number }> {
    const parsed = inboundJob.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError('job payload is not a v1 inbound job');
    const { provider, received_at: receivedAt, messages } = parsed.data;
    let applied = 0;
    for (const message of messages) {
      const intent = keywordIntent(message.text, config);
      if (!intent) continue;
      const phone = normalizePhone(message.from, config.DEFAULT_COUNTRY);
      if (!phone) continue;
      const written = await store.settings.update(phone, { opted_out: intent === 'out' }, `${provider}:inbound`, new Date(message.at));
      await optOut.invalidate(phone, { opted_out: written.opted_out, disabled_types: written.disabled_types ?? [] });
      const seconds = Math.max(0, Date.now() - Date.parse(receivedAt)) / 1000;
      optOutEffect.observe({ provider, direction: intent }, seconds);
      applied += 1;
      log.info(
        { phone: maskPhone(phone), opted_out: intent === 'out', provider, effect_ms: Math.round(seconds * 1000) },
        'recipient preference changed by message',
      );
    }
    return { applied };
  };
}
