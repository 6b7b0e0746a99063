import {
  type AcceptanceProofs,
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
  type SenderBreakers,
  type SendJob,
  type ServiceWindows,
  sendAttemptsCounter,
  sendDuration,
  senderBreakerDeferrals,
  senderBreakerState,
  senderBreakerTransitions,
  senderPaceDeferrals,
  senderPauseSeconds,
  senderPauses,
  senderSends,
  senderThrottles,
  sendFailovers,
  sendJob,
  sendUnknownOutcomes,
  sendUnknownResolved,
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
  /** Each sender's circuit breaker across every worker (issue 14). */
  breakers: SenderBreakers;
  /** Webhooks' proofs that a send whose answer was lost was taken (issue 14). */
  proofs: AcceptanceProofs;
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

/** How far a provider's event time may be before Herald's time of sending and still prove that send. */
const proofClockSkewMs = 60_000;

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

type PendingSend = NonNullable<SendJob['awaiting_proof']>;

/** The job's data without the marks of one attempt in flight. */
const settled = (data: SendJob): SendJob => {
  const { in_flight: _inFlight, awaiting_proof: _awaiting, ...rest } = data;
  return rest;
};

const breakerGauge = { closed: 0, half_open: 1, open: 2 } as const;

/** Which sender carries one attempt: the message's own, or while its breaker is open its fallback. */
interface Route {
  sender: SendingSender;
  /** This attempt is the half-open breaker's probe. */
  probe: boolean;
  /** Sent through the fallback. */
  failover: boolean;
  /** When this attempt's route was taken, just before the provider call (epoch ms). */
  begunAt: number;
}

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

  async function recordSent(
    data: SendJob,
    attempt: number,
    providerName: string,
    opts: { counted?: boolean; detail?: string } = {},
  ): Promise<void> {
    const sentAt = new Date(data.sent_at ?? Date.now());
    // Numbered before the write: once it is written, a webhook may record delivered/read (and
    // number them) before this process gets to announce `sent`.
    const sequence = data.callback_url ? await deps.emitCallback?.reserve(data.id) : undefined;
    const moved = await store.messages.recordSent(
      data.id,
      {
        at: sentAt,
        queued_at: new Date(data.queued_at),
        provider: providerName,
        provider_message_id: data.provider_message_id ?? '',
        message_text: data.message_text ?? null,
        template_version: data.template_version ?? null,
        attempt,
        sent_by: data.sent_by,
        counted: opts.counted ?? false,
      },
      opts.detail ??
        `accepted by ${providerName} as ${data.provider_message_id}${data.sent_by ? ` through fallback ${data.sent_by}` : ''}${data.sent_as ? `; ${data.sent_as}` : ''}`,
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

  async function recordFailure(
    data: SendJob,
    attempt: number,
    err: { code: string; message: string },
    retryable: boolean,
    final: boolean,
    counted = false,
  ) {
    const now = new Date();
    log[final ? 'warn' : 'info'](
      { id: data.id, to: maskPhone(data.phone), attempt, code: err.code, err: maskDigits(err.message), request_id: data.request_id },
      final ? 'send failed' : 'send attempt failed; will retry',
    );
    const error = { code: err.code, message: err.message, retryable };
    await store.messages.recordFailure(data.id, { at: now, attempt, error, final, counted });
    if (final) await notify(data, 'failed', now, err);
  }

  /** Notes a breaker transition this worker made: metrics and a log line. */
  function breakerMoved(senderId: string, to: 'open' | 'half_open' | 'closed', code?: string) {
    senderBreakerState.set({ sender: senderId }, breakerGauge[to]);
    senderBreakerTransitions.inc({ sender: senderId, to });
    log[to === 'open' ? 'warn' : 'info']({ sender: senderId, code }, `sender circuit breaker ${to.replace('_', '-')}`);
  }

  /** A transient failure (5xx, refused, timeout, unknown outcome) of a send through `route`. */
  async function transientFailure(route: Route, code: string) {
    const { opened } = await deps.breakers.failure(route.sender.id, code, route.probe, route.begunAt);
    if (opened) breakerMoved(route.sender.id, 'open', code);
  }

  /**
   * The provider answered (accepted, or refused for a reason of the message's own): ends a run of
   * failures. Always told to Redis (one script call): with many sends in flight, failures counted
   * after this send began must end here too, and its start time makes older sends' late failures
   * count for nothing.
   */
  async function answered(route: Route) {
    const { closed } = await deps.breakers.success(route.sender.id, route.begunAt);
    if (closed) breakerMoved(route.sender.id, 'closed');
  }

  /**
   * The sender for this attempt: the message's own while its breaker lets sends through; else,
   * for a message no provider may have taken yet (no unknown outcome), its fallback; else the job
   * waits in the delayed set until the breaker lets a probe through (no attempt used).
   */
  async function route(job: Job<SendJob>, token: string | undefined, own: SendingSender): Promise<Route> {
    const data = job.data;
    const gate = await deps.breakers.acquire(own.id);
    if (gate.kind === 'go') {
      if (gate.halfOpened) breakerMoved(own.id, 'half_open');
      return { sender: own, probe: gate.probe, failover: false, begunAt: Date.now() };
    }
    if (own.fallback && !data.maybe_reached) {
      const fallback = await senders.resolve(own.fallback);
      if (fallback) {
        const other = await deps.breakers.acquire(fallback.id);
        if (other.kind === 'go') {
          if (other.halfOpened) breakerMoved(fallback.id, 'half_open');
          return { sender: fallback, probe: other.probe, failover: true, begunAt: Date.now() };
        }
      }
    }
    senderBreakerDeferrals.inc({ sender: own.id });
    if (!data.breaker_waits) {
      await store.messages.addEvent(
        data.id,
        event(
          'waiting',
          new Date(),
          null,
          `sender ${own.id}'s circuit breaker is ${gate.state.replace('_', '-')}${
            data.maybe_reached
              ? ' (no failover: an earlier attempt may have reached the provider)'
              : own.fallback
                ? ' and its fallback cannot take it'
                : ''
          }: waiting`,
        ),
      );
    }
    await job.updateData({ ...data, breaker_waits: (data.breaker_waits ?? 0) + 1 });
    // Spread out, so the jobs an open breaker held do not all come back in the same millisecond.
    await job.moveToDelayed(Date.now() + gate.waitMs + Math.floor(Math.random() * 250), token);
    throw new DelayedError();
  }

  /**
   * A send whose outcome is unknown waits for the provider's webhook (issue 14): if one names
   * this message, the provider took it — recorded `sent` under the webhook's provider id, no
   * retry. Else, once the wait is over, it is sent again (if an attempt is left), and the
   * timeline says that retry may duplicate. Returns 'sent', or 'retry' with the job's data
   * cleared of the wait; throws DelayedError while the wait goes on.
   */
  async function settleUnknown(
    job: Job<SendJob>,
    token: string | undefined,
    wait: PendingSend,
    maxAttempts: number,
  ): Promise<'sent' | 'retry'> {
    const data = job.data;
    const proof = await deps.proofs.get(data.id);
    // Through the sender this attempt went through, and not from well before it was sent (the
    // provider's clock, to the second, may be a little off Herald's).
    if (proof && proof.sender === wait.sender && Date.parse(proof.at) >= Date.parse(wait.sent_at) - proofClockSkewMs) {
      const sent: SendJob = {
        ...settled(data),
        provider_message_id: proof.provider_message_id,
        sent_at: wait.sent_at,
        message_text: wait.message_text,
        template_version: wait.template_version,
        ...(wait.sent_as ? { sent_as: wait.sent_as } : {}),
        ...(wait.sent_by ? { sent_by: wait.sent_by } : {}),
      };
      await job.updateData(sent);
      await deps.proofs.done(data.id);
      sendUnknownResolved.inc({ provider: wait.provider, resolution: 'proved' });
      messagesFinished.inc({ provider: wait.provider, type: data.message_type, status: 'sent' });
      await recordSent(sent, wait.attempt, wait.provider, {
        counted: true,
        detail: `accepted by ${wait.provider} as ${proof.provider_message_id}: its webhook proved attempt ${wait.attempt}, whose answer was lost, was taken (not sent again)`,
      });
      return 'sent';
    }
    const until = Date.parse(wait.until);
    if (Date.now() < until) {
      await job.moveToDelayed(until, token);
      throw new DelayedError();
    }
    // Recorded meanwhile by another run of this job (one that lost its lock but still finished):
    // nothing is left to do.
    const current = await store.messages.get(data.id);
    if (current?.provider_message_id) {
      await job.updateData({ ...settled(data), provider_message_id: current.provider_message_id });
      await deps.proofs.done(data.id);
      return 'sent';
    }
    const next = settled(data);
    await job.updateData(next);
    await deps.proofs.done(data.id);
    const waitedS = Math.round(config.UNKNOWN_OUTCOME_WAIT_MS / 1000);
    if (wait.attempt >= maxAttempts) {
      sendUnknownResolved.inc({ provider: wait.provider, resolution: 'failed' });
      messagesFinished.inc({ provider: wait.provider, type: data.message_type, status: 'failed' });
      const err = {
        code: 'outcome_unknown',
        message: `no webhook from ${wait.provider} proved attempt ${wait.attempt} was taken within ${waitedS} s, and all ${maxAttempts} attempts are used: the provider may still have it`,
      };
      await recordFailure(next, wait.attempt, err, true, true, true);
      await deps.announce(data.id, 'failed');
      throw new UnrecoverableError(`${err.code}: ${err.message}`);
    }
    sendUnknownResolved.inc({ provider: wait.provider, resolution: 'retried' });
    await store.messages.addEvent(
      data.id,
      event(
        'retrying',
        new Date(),
        wait.attempt,
        `no webhook from ${wait.provider} proved attempt ${wait.attempt} was taken within ${waitedS} s: sending again (if the provider did take it, this retry duplicates it)`,
      ),
    );
    return 'retry';
  }

  async function attempt(job: Job<SendJob>, token: string | undefined): Promise<string> {
    const maxAttempts = job.opts.attempts ?? 1;
    const own = await senderOf(job.data);
    // The provider accepted in an earlier run; only the history write is left.
    if (job.data.provider_message_id) {
      const via = job.data.sent_by ? await senders.resolve(job.data.sent_by) : own;
      await recordSent(job.data, job.attemptsMade + 1 + (job.data.unknown_attempts ?? 0), (via ?? own).provider.name);
      return 'sent';
    }
    // A worker died while this job's request was in flight (it was found stalled and run again):
    // the provider may have the message, so the attempt's outcome is unknown.
    if (job.data.in_flight && !job.data.awaiting_proof) {
      const wait = { ...job.data.in_flight, until: new Date(Date.now() + config.UNKNOWN_OUTCOME_WAIT_MS).toISOString() };
      sendUnknownOutcomes.inc({ provider: wait.provider });
      await job.updateData({
        ...settled(job.data),
        awaiting_proof: wait,
        unknown_attempts: (job.data.unknown_attempts ?? 0) + 1,
        maybe_reached: true,
      });
      await deps.proofs.await(job.data.id, config.UNKNOWN_OUTCOME_WAIT_MS);
      await store.messages.recordUnknown(job.data.id, {
        at: new Date(),
        attempt: wait.attempt,
        error: { code: 'worker_lost', message: 'the worker sending it stopped before the provider answered', retryable: true },
        detail: `the worker sending attempt ${wait.attempt} stopped before ${wait.provider} answered: waiting up to ${Math.round(config.UNKNOWN_OUTCOME_WAIT_MS / 1000)} s for its webhook before sending again`,
      });
    }
    if (job.data.awaiting_proof) {
      if ((await settleUnknown(job, token, job.data.awaiting_proof, maxAttempts)) === 'sent') return 'sent';
    }

    const data = job.data;
    const attemptNo = job.attemptsMade + 1 + (data.unknown_attempts ?? 0);
    const finalAttempt = attemptNo >= maxAttempts;
    const now = new Date();
    if (data.expires_at && now >= new Date(data.expires_at)) {
      if (await store.messages.recordExpired(data.id, now, `not sent by ${data.expires_at}`)) await notify(data, 'expired', now, null);
      messagesFinished.inc({ provider: own.provider.name, type: data.message_type, status: 'expired' });
      return 'expired';
    }

    const way = await route(job, token, own);
    const sender = way.sender;
    const { provider } = sender;

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
      { provider: provider.name, template, phone: data.phone, sender: sender.id },
    );
    if (form.form === 'refuse') throw new PermanentFailure(form.code, form.message);

    if (way.failover) {
      sendFailovers.inc({ from: own.id, to: sender.id });
      await store.messages.addEvent(
        data.id,
        event(
          'failover',
          new Date(),
          attemptNo,
          `sender ${own.id}'s circuit breaker is open: attempt ${attemptNo} goes through its fallback ${sender.id} (${provider.name})`,
        ),
      );
    }

    // Written before the request: if this process dies before the answer, whoever runs the job
    // next knows the provider may have it (and waits for a proof instead of sending again).
    const inFlight: PendingSend = {
      attempt: attemptNo,
      until: '',
      sender: sender.id,
      provider: provider.name,
      sent_at: new Date().toISOString(),
      message_text: text,
      template_version: template.version,
      ...(form.note ? { sent_as: form.note } : {}),
      ...(way.failover ? { sent_by: sender.id } : {}),
    };
    await job.updateData({ ...data, in_flight: inFlight });

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
      if (err instanceof ProviderError && err.outcome_unknown) {
        // The provider may have the message: wait for its webhook rather than send it again.
        await transientFailure(way, err.code);
        sendAttemptsCounter.inc({ provider: provider.name, outcome: 'unknown' });
        sendUnknownOutcomes.inc({ provider: provider.name });
        const wait: PendingSend = { ...inFlight, until: new Date(Date.now() + config.UNKNOWN_OUTCOME_WAIT_MS).toISOString() };
        await job.updateData({
          ...settled(data),
          awaiting_proof: wait,
          unknown_attempts: (data.unknown_attempts ?? 0) + 1,
          maybe_reached: true,
        });
        await deps.proofs.await(data.id, config.UNKNOWN_OUTCOME_WAIT_MS);
        log.info(
          { id: data.id, to: maskPhone(data.phone), attempt: attemptNo, code: err.code, sender: sender.id },
          'send outcome unknown; waiting for a webhook',
        );
        await store.messages.recordUnknown(data.id, {
          at: new Date(),
          attempt: attemptNo,
          error: { code: err.code, message: err.message, retryable: true },
          detail: `${err.code}: ${err.message}; waiting up to ${Math.round(config.UNKNOWN_OUTCOME_WAIT_MS / 1000)} s for ${provider.name}'s webhook to prove it was taken before sending again`,
        });
        await deps.announce(data.id, 'unknown');
        // The webhook may be here already; else the job waits in the delayed set (DelayedError).
        await settleUnknown(job, token, wait, maxAttempts);
        return 'sent';
      }
      // Certainly not taken: the attempt's mark goes, so a later run does not mistake it for one in flight.
      await job.updateData(data);
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
      if (err.retryable) await transientFailure(way, err.code);
      else await answered(way);
      const final = !err.retryable || finalAttempt;
      sendAttemptsCounter.inc({ provider: provider.name, outcome: final ? 'failed' : 'retry' });
      if (final) messagesFinished.inc({ provider: provider.name, type: data.message_type, status: 'failed' });
      await recordFailure(data, attemptNo, err, err.retryable, final);
      await deps.announce(data.id, final ? 'failed' : 'retrying');
      // BullMQ does not count the attempts whose outcome was unknown: the last one is ended here.
      if (final) throw new UnrecoverableError(`${err.code}: ${err.message}`);
      throw err;
    }

    await answered(way);
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
      ...(way.failover ? { sent_by: sender.id } : {}),
    };
    // Saved before the history write: from here on a retry records, it never sends again.
    await job.updateData(sent);
    await recordSent(sent, attemptNo, provider.name);
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
