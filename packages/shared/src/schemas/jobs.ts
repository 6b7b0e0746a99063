import { z } from 'zod';
import { contextSchema, inboundReply, mediaAttachment } from './message.ts';

// Job payloads carry a version `v`: a worker of a newer release must still read the jobs an older
// API queued (and reject, not misread, a newer one). Bump `v` and accept both while old jobs drain.

/** One attempt as sent: what to record if a webhook proves the provider took it (issue 14). */
const pendingSend = z.object({
  attempt: z.number().int(),
  /** When the wait for a proof ends (ISO): then it is retried. */
  until: z.string(),
  /** The sender it went through, whose webhook must prove it. */
  sender: z.string(),
  provider: z.string(),
  sent_at: z.string(),
  message_text: z.string(),
  template_version: z.number().int(),
  sent_as: z.string().optional(),
  /** Set when that attempt went through the fallback. */
  sent_by: z.string().optional(),
});

export const sendJob = z.object({
  v: z.literal(1),
  id: z.string(),
  tenant: z.string(),
  phone: z.string(),
  message_type: z.string(),
  context: contextSchema,
  /** ISO time after which the message must not be handed to the provider. */
  expires_at: z.string().nullable(),
  /** ISO time the message became due (created_at, or send_at when scheduled). */
  queued_at: z.string(),
  request_id: z.string().optional(),
  /**
   * The sender (number and credentials) that sends this message, and whose pace it takes. Absent
   * (jobs of earlier releases): the deployment's sender from the environment, `env`.
   */
  sender: z.string().optional(),
  /** Where status changes are POSTed (SPEC 3), and what they carry. */
  callback_url: z.string().optional(),
  reference_id: z.string().optional(),
  /** A text message's attachment. */
  media: mediaAttachment.optional(),
  /** Saved right after the provider accepts, before the history write: a retry never sends twice. */
  provider_message_id: z.string().optional(),
  sent_at: z.string().optional(),
  message_text: z.string().optional(),
  template_version: z.number().int().optional(),
  /** The throttle back-off in force when this job was last throttled, in ms. */
  throttle_ms: z.number().int().optional(),
  /** How many times the pair rate limit delayed this job (131056). */
  recipient_delays: z.number().int().optional(),
  /** How many times an unavailable database delayed this job. */
  infra_delays: z.number().int().optional(),
  /** How it went out with respect to the 24 h window ("sent as text: inside …"), for the timeline. */
  sent_as: z.string().optional(),
  /**
   * Issue 14. Attempts whose outcome was unknown (the request went out, no answer came): they
   * used an attempt without BullMQ counting it (the job waited in the delayed set instead).
   */
  unknown_attempts: z.number().int().optional(),
  /** Some attempt may have reached a provider: this message never fails over to another sender. */
  maybe_reached: z.boolean().optional(),
  /**
   * The attempt being sent, written just before the provider call: a job found with it after a
   * worker died (a stalled job run again) may have reached the provider, so it waits for a proof.
   */
  in_flight: pendingSend.optional(),
  /** The unknown-outcome attempt this job waits on a proof for: what to record if one comes. */
  awaiting_proof: pendingSend.optional(),
  /** How many times an open circuit breaker (with no fallback to take it) delayed this job. */
  breaker_waits: z.number().int().optional(),
  /** The fallback sender that sent it (failover): recorded as the message's `sent_by`. */
  sent_by: z.string().optional(),
});
export type SendJob = z.infer<typeof sendJob>;

/** A provider status event, normalised by the provider adapter. */
export const statusEvent = z.object({
  provider_message_id: z.string(),
  status: z.enum(['sent', 'delivered', 'read', 'failed']),
  /** Provider's timestamp, ISO. */
  at: z.string(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  /**
   * The recipient's number as the provider gives it, where it does: kept only on an orphan (an
   * event no message matches), so that erasing the person finds it.
   */
  recipient: z.string().optional(),
  /**
   * Identifies the event where the provider's timestamp cannot (Twilio sends none; MyOperator
   * has an event id): two events with the same key are one. Default: status + timestamp.
   */
  key: z.string().optional(),
  /**
   * The sender whose webhooks brought the event (stamped by the status processor from its job):
   * it applies only to a message that sender sent (senderOwns). Absent: the deployment's sender.
   */
  sender: z.string().optional(),
  /**
   * Herald's own message id, where the provider echoes what the send carried (Meta
   * `biz_opaque_callback_data`, the id in Twilio's StatusCallback URL, MyOperator `myop_ref_id`):
   * proves that a send whose answer was lost was accepted, and under which provider id.
   */
  herald_id: z.string().optional(),
});
export type StatusEvent = z.infer<typeof statusEvent>;

export const inboundMessage = z.object({
  from: z.string(),
  /** The text, or for a reply the label of what was tapped (so a STOP button reads like a typed STOP). */
  text: z.string(),
  at: z.string(),
  provider_message_id: z.string(),
  /** The provider id of the message this one answers (Meta `context.id`, Twilio `OriginalRepliedMessageSid`). */
  reply_to: z.string().optional(),
  /** Set when the message is a button or list tap rather than typed text. */
  reply: inboundReply.optional(),
});
export type InboundMessage = z.infer<typeof inboundMessage>;

export const statusJob = z.object({
  v: z.literal(1),
  provider: z.string(),
  received_at: z.string(),
  statuses: z.array(statusEvent),
  /** The sender whose webhook this was (`env`, or a stored sender's id); absent from jobs of the release before senders: `env`. */
  sender: z.string().optional(),
  /**
   * Inbound messages of the request, from an API of an earlier release only: this release queues
   * them as an `inbound` job and writes `[]` here (still written, so a worker of the earlier
   * release reads this release's jobs during a rolling upgrade).
   */
  inbound: z.array(inboundMessage),
});
export type StatusJob = z.infer<typeof statusJob>;

/**
 * The inbound messages of one webhook request (opt-out and opt-in keywords among them), in a queue
 * of their own so that no backlog of status events delays them.
 */
export const inboundJob = z.object({
  v: z.literal(1),
  provider: z.string(),
  /** ISO time the API received the webhook: the start of the opt-out-to-effect measure. */
  received_at: z.string(),
  /** The sender whose number received the messages (`env`, or a stored sender's id); absent from jobs of the release before senders: `env`. */
  sender: z.string().optional(),
  messages: z.array(inboundMessage).min(1),
});
export type InboundJob = z.infer<typeof inboundJob>;

/**
 * The body POSTed to a message's callback_url on each status change (SPEC 3), and on each reply
 * to the message (`event: reply`, with `reply`; `status` is then the message's current status).
 */
export const callbackPayload = z.object({
  /** Absent from the jobs of releases before replies existed: those are all status changes. */
  event: z.enum(['status', 'reply']).optional(),
  id: z.string(),
  status: z.string(),
  at: z.string(),
  sequence: z.number().int(),
  reference_id: z.string().nullable(),
  provider_message_id: z.string().nullable(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  reply: inboundReply.optional(),
});
export type CallbackPayload = z.infer<typeof callbackPayload>;

export const callbackJob = z.object({
  v: z.literal(1),
  url: z.string(),
  payload: callbackPayload,
});
export type CallbackJob = z.infer<typeof callbackJob>;

/**
 * An accepted message on its way to history (the `accept` queue): the API answers once this job
 * is in Redis, and a worker writes `record` to history in batches, then queues `send` (delayed to
 * `send_at` when scheduled). `record` is the whole MessageDocument with its dates as ISO strings
 * (see recordToJson/recordFromJson); `send` is absent for a message that is not sent (suppressed).
 */
export const acceptJob = z.object({
  v: z.literal(1),
  record: z.record(z.string(), z.unknown()),
  send: sendJob.nullable(),
});
export type AcceptJob = z.infer<typeof acceptJob>;
