import { createHmac, timingSafeEqual } from 'node:crypto';
import type { JobsOptions, Queue } from 'bullmq';
import type { RedisConnection } from '../queues/queues.ts';
import type { CallbackJob, CallbackPayload } from '../schemas/jobs.ts';
import type { InboundReply } from '../schemas/message.ts';

// The callback job and payload schemas live with the other job payloads in schemas/jobs.ts, so
// queues.ts needs nothing from here and the import goes one way only (callbacks → queues).

export const callbackJobName = 'callback';
export const callbackSignatureHeader = 'x-herald-signature';

/** `sha256=<hex HMAC-SHA256 of the exact body>`. */
export const signCallback = (secret: string, body: string) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

/** For receivers (and the SDK): constant-time check of an X-Herald-Signature header. */
export function verifyCallbackSignature(secret: string, body: string, header: string | undefined | null): boolean {
  if (!header) return false;
  const expected = Buffer.from(signCallback(secret, body));
  const given = Buffer.from(header);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

export function callbackJobOptions(attempts: number, backoffMs: number): JobsOptions {
  return {
    attempts,
    backoff: { type: 'exponential', delay: backoffMs },
    removeOnComplete: { age: 3600, count: 10_000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  };
}

/** What a status change needs to say about its message. */
export interface CallbackSubject {
  _id: string;
  callback_url?: string | null | undefined;
  reference_id?: string | null | undefined;
  provider_message_id?: string | null | undefined;
}

export interface CallbackEmitterDeps {
  queue: Queue<CallbackJob>;
  redis: RedisConnection;
  prefix: string;
  attempts: number;
  backoffMs: number;
  /** Where a failure to enqueue is reported; it never fails the message. */
  warn?: (obj: object, msg: string) => void;
}

const sequenceTtlSeconds = 30 * 24 * 3600;

/**
 * Queues one callback per status change of a message that has a callback_url. `sequence` comes
 * from a per-message Redis counter taken after the change was written, so a later change always
 * carries a higher number; receivers keep the highest. Failing to enqueue is logged and swallowed:
 * a callback never affects the message (SPEC 3).
 */
export function callbackEmitter(deps: CallbackEmitterDeps) {
  async function nextSequence(id: string): Promise<number> {
    const key = `${deps.prefix}:cbseq:${id}`;
    const sequence = await deps.redis.incr(key);
    if (sequence === 1) await deps.redis.expire(key, sequenceTtlSeconds);
    return sequence;
  }
  async function queue(subject: CallbackSubject, fields: Omit<CallbackPayload, 'sequence'>, reserved: number | undefined): Promise<void> {
    if (!subject.callback_url) return;
    try {
      const sequence = reserved ?? (await nextSequence(subject._id));
      // In the order docs/api.md shows them.
      const { event, id, status, at, reference_id, provider_message_id, error, reply } = fields;
      const payload: CallbackPayload = {
        event,
        id,
        status,
        at,
        sequence,
        reference_id,
        provider_message_id,
        error,
        ...(reply ? { reply } : {}),
      };
      await deps.queue.add(
        callbackJobName,
        { v: 1, url: subject.callback_url, payload },
        callbackJobOptions(deps.attempts, deps.backoffMs),
      );
    } catch (err) {
      deps.warn?.({ err: (err as Error).message, id: subject._id }, 'callback not queued');
    }
  }
  const about = (subject: CallbackSubject) => ({
    id: subject._id,
    reference_id: subject.reference_id ?? null,
    provider_message_id: subject.provider_message_id ?? null,
  });
  /**
   * `reserved`: a sequence taken before the change was written, where another process could
   * otherwise record a later change (and take its number) before this one is announced.
   */
  async function emit(
    subject: CallbackSubject,
    status: string,
    at: Date,
    error?: { code: string; message: string } | null,
    reserved?: number,
  ): Promise<void> {
    await queue(
      subject,
      {
        event: 'status',
        ...about(subject),
        status,
        at: at.toISOString(),
        error: error ? { code: error.code, message: error.message } : null,
      },
      reserved,
    );
  }
  /** A sequence number now, or undefined when Redis is away (emit then takes its own). */
  emit.reserve = (id: string): Promise<number | undefined> => nextSequence(id).catch(() => undefined);
  /**
   * A reply to the message (`event: reply`), with the message's status as the write left it. Take
   * `reserved` before reading that status, so that the highest sequence a receiver has seen always
   * carries the latest status, whichever kind of callback it came with.
   */
  emit.reply = (subject: CallbackSubject & { status: string }, reply: InboundReply, at: Date, reserved?: number): Promise<void> =>
    queue(subject, { event: 'reply', ...about(subject), status: subject.status, at: at.toISOString(), error: null, reply }, reserved);
  return emit;
}
export type EmitCallback = ReturnType<typeof callbackEmitter>;
