import {
  type Config,
  type EmitCallback,
  ENV_SENDER_ID,
  type MessageEvent,
  type MessageStatus,
  maskDigits,
  maskPhone,
  messagesFinished,
  type OptOutCache,
  ProviderError,
  pairRateLimitDelayMs,
  queuedToSent,
  type SendJob,
  type ServiceWindows,
  sendAttemptsCounter,
  sendDuration,
  sendJob,
  suppressionReason,
  TemplateRenderError,
  type TemplateStore,
  throttlePauseSeconds,
  throttlePauses,
  type WhatsAppProvider,
} from '@herald/shared';
import { isStoreError, type Store } from '@herald/store';
import { DelayedError, type Job, type Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Logger } from 'pino';
import { chooseForm, providersFor } from '../service-window.ts';
import { ThrottleBackoff } from '../throttle.ts';

export interface SendDeps {
  config: Config;
  /** History: every write of a send's outcome goes through it. */
  store: Store;
  templates: TemplateStore;
  /** Recipients' preferences, re-checked just before each provider call (a change drops the recipient in every process). */
  optOut: Pick<OptOutCache, 'get'>;
  /** The deployment's sender (`env`): WHATSAPP_PROVIDER and its credentials. */
  provider: WhatsAppProvider;
  /**
   * The adapter of a stored sender (issue 13), built from the sender mirror; undefined: no such
   * sender. Without it, every message goes through `provider`.
   */
  providerOf?: (senderId: string) => Promise<WhatsAppProvider | undefined>;
  /** The send queue: a throttle pauses it for every worker (BullMQ's queue-wide rate limit). */
  queue: Queue<SendJob>;
  /** Tells an API request waiting on `immediate` that an attempt ended. */
  announce(id: string, status: string): Promise<unknown>;
  /** Queues a callback for a status change (no-op without a callback_url); never throws. */
  emitCallback?: EmitCallback;
  /** The 24-hour windows: whether a text goes, or a prefer_text_in_window template goes as text. */
  windows?: Pick<ServiceWindows, 'state'>;
  log: Logger;
}

/** A failure decided before or without the provider: never worth a retry. */
class PermanentFailure extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** How long an infrastructure hiccup (MongoDB away) delays a job without using an attempt. */
const infraDelayMs = (n: number) => Math.min(1000 * 2 ** n, 30_000);
const maxInfraDelays = 20;

const event = (status: string, at: Date, attempt: number | null, detail: string | null): MessageEvent => ({
  status,
  at: at.toISOString(),
  source: 'worker',
  attempt,
  detail,
});

/**
 * One send attempt: render, send, record. The provider's id is saved on the job before the
 * history write, so a retry after a failed write records instead of sending again. Throttles and
 * the pair rate limit wait without using an attempt; permanent errors fail at once.
 */
export function createSendProcessor(deps: SendDeps) {
  const { config, store, templates, queue, log } = deps;
  const throttle = new ThrottleBackoff();

  /** The adapter of the message's sender: the deployment's unless the job names a stored one. */
  async function providerFor(data: SendJob): Promise<WhatsAppProvider> {
    if (!data.sender || data.sender === ENV_SENDER_ID || !deps.providerOf) return deps.provider;
    const found = await deps.providerOf(data.sender);
    if (!found) throw new PermanentFailure('sender_unknown', `sender ${data.sender} no longer exists`);
    return found;
  }

  async function recordSent(data: SendJob, attempt: number, provider: WhatsAppProvider): Promise<void> {
    const sentAt = new Date(data.sent_at ?? Date.now());
    // Numbered before the write: once it is written, a webhook may record delivered/read (and
    // number them) before this process gets to announce `sent`.
    const sequence = data.callback_url ? await deps.emitCallback?.reserve(data.id) : undefined;
    const moved = await store.messages.recordSent(
      data.id,
      {
        at: sentAt,
        queued_at: new Date(data.queued_at),
        provider: provider.name,
        provider_message_id: data.provider_message_id ?? '',
        message_text: data.message_text ?? null,
        template_version: data.template_version ?? null,
        attempt,
      },
      `accepted by ${provider.name} as ${data.provider_message_id}${data.sent_as ? `; ${data.sent_as}` : ''}`,
    );
    if (moved) await notify(data, 'sent', sentAt, null, sequence);
  }

  async function notify(
    data: SendJob,
    status: MessageStatus,
    at: Date,
    error: { code: string; message: string } | null,
    sequence?: number,
  ) {
    if (!deps.emitCallback || !data.callback_url) return;
    await deps.emitCallback(
      {
        _id: data.id,
        callback_url: data.callback_url,
        reference_id: data.reference_id ?? null,
        provider_message_id: data.provider_message_id ?? null,
      },
      status,
      at,
      error,
      sequence,
    );
  }

  async function recordFailure(data: SendJob, attempt: number, err: { code: string; message: string }, retryable: boolean, final: boolean) {
    const now = new Date();
    log[final ? 'warn' : 'info'](
      { id: data.id, to: maskPhone(data.phone), attempt, code: err.code, err: maskDigits(err.message), request_id: data.request_id },
      final ? 'send failed' : 'send attempt failed; will retry',
    );
    const error = { code: err.code, message: err.message, retryable };
    await store.messages.recordFailure(data.id, { at: now, attempt, error, final });
    if (final) await notify(data, 'failed', now, err);
  }

  async function attempt(job: Job<SendJob>, token: string | undefined): Promise<string> {
    const data = job.data;
    const attemptNo = job.attemptsMade + 1;
    const finalAttempt = attemptNo >= (job.opts.attempts ?? 1);
    const provider = await providerFor(data);

    // The provider accepted in an earlier run; only the history write is left.
    if (data.provider_message_id) {
      await recordSent(data, attemptNo, provider);
      return 'sent';
    }

    const now = new Date();
    if (data.expires_at && now >= new Date(data.expires_at)) {
      if (await store.messages.recordExpired(data.id, now, `not sent by ${data.expires_at}`)) await notify(data, 'expired', now, null);
      messagesFinished.inc({ provider: provider.name, type: data.message_type, status: 'expired' });
      return 'expired';
    }

    const template = await templates.get(data.message_type);
    if (!template) throw new PermanentFailure('template_missing', `template ${data.message_type} no longer exists`);
    let text: string;
    try {
      text = templates.compiled(template).render(data.context, config.BRAND_NAME);
    } catch (err) {
      if (err instanceof TemplateRenderError) throw new PermanentFailure(err.code, err.message);
      throw err;
    }
    if (text.length > provider.maxTextLength) {
      throw new PermanentFailure(
        'text_too_long',
        `rendered text is ${text.length} characters; ${provider.name} takes at most ${provider.maxTextLength}`,
      );
    }

    // Re-checked as late as possible: a STOP that arrived while this message waited wins.
    const refused = suppressionReason(await deps.optOut.get(data.phone), data.message_type);
    if (refused) {
      const at = new Date();
      if (await store.messages.recordSuppressed(data.id, at, `${refused} before it was sent`)) await notify(data, 'suppressed', at, null);
      messagesFinished.inc({ provider: provider.name, type: data.message_type, status: 'suppressed' });
      return 'suppressed';
    }

    const form = await chooseForm(
      { config, windows: deps.windows },
      { provider: provider.name, template, phone: data.phone, sender: data.sender },
    );
    if (form.form === 'refuse') throw new PermanentFailure(form.code, form.message);

    let providerId: string;
    const startedAt = performance.now();
    const took = () => (performance.now() - startedAt) / 1000;
    try {
      const result = await provider.send({
        id: data.id,
        to: data.phone,
        text,
        // brand_name is a builtin a mapping may name, as the content may.
        template: {
          type: template.type,
          providers: providersFor(form, template.providers, provider.name),
          context: { ...data.context, brand_name: config.BRAND_NAME },
        },
        media: data.media,
      });
      providerId = result.provider_message_id;
      sendDuration.observe({ provider: provider.name, outcome: 'sent' }, took());
    } catch (err) {
      sendDuration.observe(
        { provider: provider.name, outcome: err instanceof ProviderError ? (err.throttled ? 'throttled' : 'error') : 'network' },
        took(),
      );
      if (!(err instanceof ProviderError)) {
        sendAttemptsCounter.inc({ provider: provider.name, outcome: 'retry' });
        throw err;
      }
      if (err.throttled) {
        const pauseMs = err.retry_after_ms ?? throttle.next();
        sendAttemptsCounter.inc({ provider: provider.name, outcome: 'throttled' });
        throttlePauses.inc({ provider: provider.name });
        throttlePauseSeconds.inc({ provider: provider.name }, pauseMs / 1000);
        await queue.rateLimit(pauseMs);
        log.warn({ code: err.code, pauseMs }, 'provider throttled: queue paused');
        await store.messages.addEvent(data.id, event('throttled', new Date(), null, `${err.code}: queue paused ${pauseMs} ms`));
        await deps.announce(data.id, 'throttled');
        throw Worker.RateLimitError();
      }
      if (err.delay_recipient_ms !== undefined) {
        const times = data.recipient_delays ?? 0;
        const waitMs = pairRateLimitDelayMs(times);
        sendAttemptsCounter.inc({ provider: provider.name, outcome: 'delayed' });
        await job.updateData({ ...data, recipient_delays: times + 1 });
        await job.moveToDelayed(Date.now() + waitMs, token);
        await store.messages.addEvent(
          data.id,
          event('delayed', new Date(), null, `${err.code}: recipient rate limit, retry in ${waitMs} ms`),
        );
        await deps.announce(data.id, 'delayed');
        throw new DelayedError();
      }
      const final = !err.retryable || finalAttempt;
      sendAttemptsCounter.inc({ provider: provider.name, outcome: final ? 'failed' : 'retry' });
      if (final) messagesFinished.inc({ provider: provider.name, type: data.message_type, status: 'failed' });
      await recordFailure(data, attemptNo, err, err.retryable, final);
      await deps.announce(data.id, final ? 'failed' : 'retrying');
      if (!err.retryable) throw new UnrecoverableError(`${err.code}: ${err.message}`);
      throw err;
    }

    throttle.reset();
    sendAttemptsCounter.inc({ provider: provider.name, outcome: 'sent' });
    messagesFinished.inc({ provider: provider.name, type: data.message_type, status: 'sent' });
    queuedToSent.observe({ provider: provider.name }, Math.max(0, Date.now() - new Date(data.queued_at).getTime()) / 1000);
    const sent: SendJob = {
      ...data,
      provider_message_id: providerId,
      sent_at: new Date().toISOString(),
      message_text: text,
      template_version: template.version,
      ...(form.note ? { sent_as: form.note } : {}),
    };
    // Saved before the history write: from here on a retry records, it never sends again.
    await job.updateData(sent);
    await recordSent(sent, attemptNo, provider);
    return 'sent';
  }

  return async function processSend(job: Job<SendJob>, token?: string): Promise<string> {
    const parsed = sendJob.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`job payload is not a v1 send job: ${parsed.error.issues[0]?.message}`);
    try {
      const outcome = await attempt(job, token);
      await deps.announce(job.data.id, outcome);
      log.info({ id: job.data.id, to: maskPhone(job.data.phone), outcome, request_id: job.data.request_id }, 'send attempt done');
      return outcome;
    } catch (err) {
      if (err instanceof PermanentFailure) {
        const name = err.code === 'sender_unknown' ? 'unknown' : (await providerFor(job.data)).name;
        sendAttemptsCounter.inc({ provider: name, outcome: 'failed' });
        messagesFinished.inc({ provider: name, type: job.data.message_type, status: 'failed' });
        await recordFailure(job.data, job.attemptsMade + 1, err, false, true);
        await deps.announce(job.data.id, 'failed');
        throw new UnrecoverableError(`${err.code}: ${err.message}`);
      }
      if (isStoreError(err)) {
        // MongoDB is away: wait without using an attempt (the provider id, if any, is on the job).
        const n = job.data.infra_delays ?? 0;
        if (n < maxInfraDelays) {
          log.warn({ id: job.data.id, err: (err as Error).message }, 'database unavailable: job delayed');
          await job.updateData({ ...job.data, infra_delays: n + 1 });
          await job.moveToDelayed(Date.now() + infraDelayMs(n), token);
          throw new DelayedError();
        }
      }
      throw err;
    }
  };
}
