import {
  type Config,
  type EmitCallback,
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
  senderPaceDeferrals,
  senderPauseSeconds,
  senderPauses,
  senderSends,
  senderThrottles,
  sendJob,
  suppressionReason,
  TemplateRenderError,
  type TemplateStore,
  throttlePauseSeconds,
  throttlePauses,
  type WhatsAppProvider,
} from '@herald/shared';
import { isStoreError, type Store } from '@herald/store';
import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import type { Logger } from 'pino';
import type { SenderPace } from '../pacing/sender-pace.ts';
import { DEFAULT_SENDER_ID, type SenderResolver, type SendingSender, StaticSenders } from '../senders.ts';
import { chooseForm, providersFor } from '../service-window.ts';

export interface SendDeps {
  config: Config;
  /** History: every write of a send's outcome goes through it. */
  store: Store;
  templates: TemplateStore;
  /** Recipients' preferences, re-checked just before each provider call (a change drops the recipient in every process). */
  optOut: Pick<OptOutCache, 'get'>;
  /** The deployment's sender's adapter (sender `env`), used when no `senders` are given. */
  provider: WhatsAppProvider;
  /** Which sender sends a job (its `sender`, else `env`): its adapter and its pace. @defaultValue `env` only, at PROVIDER_MPS */
  senders?: SenderResolver;
  /** Each sender's pace across every worker; a throttle pauses only that sender. */
  pace: SenderPace;
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
  /** The adapter's name, for the metrics' provider label. */
  readonly provider: string | undefined;
  constructor(code: string, message: string, provider?: string) {
    super(message);
    this.code = code;
    this.provider = provider;
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
  const { config, store, templates, pace, log } = deps;
  const senders = deps.senders ?? new StaticSenders({ provider: deps.provider, mps: config.PROVIDER_MPS });

  async function senderOf(data: SendJob): Promise<SendingSender> {
    const id = data.sender ?? DEFAULT_SENDER_ID;
    const sender = await senders.resolve(id);
    if (!sender) throw new PermanentFailure('sender_unknown', `sender ${id} is not configured in this worker`);
    return sender;
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
    const sender = await senderOf(data);
    const { provider } = sender;
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

    // The sender's next slot, shared by every worker; a job that must wait for it leaves the
    // worker (delayed set) instead of holding a concurrency slot. Taken before the template and
    // the recipient's preferences are read: a backlog's first pass is then Redis only (fast, so
    // the jobs whose slots come first are not held up behind it), and the opt-out check stays
    // as late as possible.
    const slot = await pace.take(sender, job.id ?? data.id);
    if (slot.kind === 'defer') {
      senderPaceDeferrals.inc({ sender: sender.id });
      await job.moveToDelayed(Date.now() + slot.waitMs, token);
      throw new DelayedError();
    }
    if (slot.waitMs > 0) await new Promise((r) => setTimeout(r, slot.waitMs));

    const template = await templates.get(data.message_type);
    if (!template) throw new PermanentFailure('template_missing', `template ${data.message_type} no longer exists`, provider.name);
    let text: string;
    try {
      text = templates.compiled(template).render(data.context, config.BRAND_NAME);
    } catch (err) {
      if (err instanceof TemplateRenderError) throw new PermanentFailure(err.code, err.message, provider.name);
      throw err;
    }
    if (text.length > provider.maxTextLength) {
      throw new PermanentFailure(
        'text_too_long',
        `rendered text is ${text.length} characters; ${provider.name} takes at most ${provider.maxTextLength}`,
        provider.name,
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
        // Pauses this sender only, in every worker; the job waits for its first slot after the
        // pause in the delayed set, without using an attempt.
        const { pauseMs, started } = await pace.throttled(sender.id, err.retry_after_ms);
        sendAttemptsCounter.inc({ provider: provider.name, outcome: 'throttled' });
        senderThrottles.inc({ sender: sender.id });
        if (started) {
          throttlePauses.inc({ provider: provider.name });
          throttlePauseSeconds.inc({ provider: provider.name }, pauseMs / 1000);
          senderPauses.inc({ sender: sender.id });
          senderPauseSeconds.inc({ sender: sender.id }, pauseMs / 1000);
          log.warn({ code: err.code, sender: sender.id, pauseMs }, 'provider throttled: sender paused');
        }
        await store.messages.addEvent(
          data.id,
          event('throttled', new Date(), null, `${err.code}: sender ${sender.id} paused ${pauseMs} ms`),
        );
        await deps.announce(data.id, 'throttled');
        const after = await pace.take(sender, job.id ?? data.id);
        await job.moveToDelayed(Date.now() + Math.max(after.waitMs, 0), token);
        throw new DelayedError();
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

    sendAttemptsCounter.inc({ provider: provider.name, outcome: 'sent' });
    senderSends.inc({ sender: sender.id });
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
        const providerName = err.provider ?? deps.provider.name;
        sendAttemptsCounter.inc({ provider: providerName, outcome: 'failed' });
        messagesFinished.inc({ provider: providerName, type: job.data.message_type, status: 'failed' });
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
