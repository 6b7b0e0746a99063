import { z } from 'zod';
import { mediaUrlProblem } from '../security/media-url.ts';

/** Statuses in ladder order; a status only moves up (SPEC 3). */
export const ladder = ['scheduled', 'queued', 'sending', 'sent', 'delivered', 'read'] as const;
export const messageStatuses = [...ladder, 'failed', 'cancelled', 'suppressed', 'expired'] as const;
export const messageStatus = z.enum(messageStatuses);
export type MessageStatus = z.infer<typeof messageStatus>;
export type LadderStatus = (typeof ladder)[number];

export const rank = (status: MessageStatus): number => (ladder as readonly string[]).indexOf(status);

/** Ladder statuses strictly below `status`: the ones a message may move up from. */
export const below = (status: LadderStatus): LadderStatus[] => ladder.slice(0, rank(status));

export const finalStatuses: readonly MessageStatus[] = ['read', 'failed', 'cancelled', 'suppressed', 'expired'];

export const eventSource = z.enum(['api', 'worker', 'webhook', 'admin']);

/**
 * A tap on something Herald's message offered: a template's quick-reply button (Meta `button`,
 * Twilio `ButtonPayload`), or an interactive reply button or list row (Meta `interactive`).
 */
export const inboundReply = z.object({
  kind: z.enum(['quick_reply', 'button_reply', 'list_reply']).meta({ description: 'What was tapped' }),
  /** What the business put on the button or row: Meta's `button.payload` or interactive `id`, Twilio's `ButtonPayload`. */
  payload: z.string(),
  /** What the user saw on it: the button label or row title. */
  title: z.string(),
  /** A list row's description, when it has one. */
  description: z.string().optional(),
});
export type InboundReply = z.infer<typeof inboundReply>;

export const messageEvent = z.object({
  status: z.string().meta({ description: 'A status, an attempt outcome such as `attempt_failed`, or `reply`' }),
  at: z.iso.datetime(),
  source: eventSource,
  attempt: z.number().int().nullable().optional(),
  detail: z.string().nullable().optional(),
  /** On a `reply` entry: what the recipient tapped. */
  reply: inboundReply.optional(),
});
export type MessageEvent = z.infer<typeof messageEvent>;

/** Context values: flat, scalar, bounded (SPEC 2.1). */
export const contextKey = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const maxContextValueLength = 1024;
export const maxContextKeys = 64;

/**
 * A bounded text field without NUL: PostgreSQL (under FerretDB) refuses NUL in stored and queried
 * strings, so a NUL must be a 400 here, not a 500 there (found by the fuzzer).
 */
export const text = (min: number, max: number) =>
  z
    .string()
    .min(min)
    .max(max)
    .refine((v) => !v.includes('\u0000'), 'must not contain NUL');

export const contextSchema = z
  .record(
    z.string().regex(contextKey, 'keys must match [A-Za-z_][A-Za-z0-9_]*'),
    z.union([
      z
        .string()
        .max(maxContextValueLength, `at most ${maxContextValueLength} characters`)
        .refine((v) => !v.includes('\u0000'), 'must not contain NUL'),
      z.number().finite(),
      z.boolean(),
    ]),
  )
  .refine((ctx) => Object.keys(ctx).length <= maxContextKeys, `at most ${maxContextKeys} keys`);
export type Context = z.infer<typeof contextSchema>;

/**
 * One attachment of a text message (a template without a mapping for the provider): Meta sends it
 * as a document or image message whose caption is the rendered text, Twilio as `MediaUrl` with the
 * text as `Body`. Free-form messages only reach a recipient inside the 24 h customer-service
 * window; outside it the provider refuses them (Meta 131047, Twilio 63016).
 */
export const mediaAttachment = z
  .object({
    type: z.enum(['document', 'image']),
    url: z.string().superRefine((value, ctx) => {
      const problem = mediaUrlProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem, input: value });
    }),
    /** The file name the recipient sees; documents only. */
    filename: text(1, 240).optional(),
  })
  .strict()
  .refine((m) => m.type === 'document' || m.filename === undefined, { message: 'only a document has a filename', path: ['filename'] })
  .meta({ example: { type: 'document', url: 'https://cdn.example.com/invoices/INV-7.pdf', filename: 'INV-7.pdf' } });
export type MediaAttachment = z.infer<typeof mediaAttachment>;

export const sendMessageRequest = z
  .object({
    phone: text(1, 32).meta({ example: '+919876543210' }),
    message_type: text(1, 64).meta({ example: 'delivery_reminder' }),
    context: contextSchema.default({}).meta({ example: { customer_name: 'Asha', delivery_date: '2026-02-01' } }),
    reference_id: text(1, 128).optional().meta({ example: 'order_123' }),
    immediate: z.boolean().default(true),
    send_at: z.iso.datetime({ offset: true }).optional(),
    expires_at: z.iso.datetime({ offset: true }).optional(),
    idempotency_key: text(1, 200).optional().meta({ example: 'order_123:delivery_reminder' }),
    callback_url: z
      .url({ protocol: /^https?$/ })
      .max(2048)
      .optional(),
    media: mediaAttachment.optional(),
    sender: text(1, 64).optional().meta({
      description:
        "The sender (WhatsApp number) to send from: one of the caller's tenant's, or `env`. Default: the tenant's default sender, else the deployment's.",
      example: 'snd_01JH8ZQ6S9V3X4Y5Z6A7B8C9D0',
    }),
  })
  .strict();
export type SendMessageRequest = z.infer<typeof sendMessageRequest>;

export const messageView = z.object({
  id: z.string().meta({ example: 'msg_01JH8ZQ6S9V3X4Y5Z6A7B8C9D0' }),
  phone: z.string(),
  message_type: z.string(),
  status: messageStatus,
  message_text: z.string().nullable(),
  reference_id: z.string().nullable(),
  created_at: z.iso.datetime(),
  sent_at: z.iso.datetime().nullable(),
  provider: z.string(),
  provider_message_id: z.string().nullable(),
  sender: z.string().meta({ description: "The sender it goes through; `env`: the deployment's" }),
});
export type MessageView = z.infer<typeof messageView>;

export const messageDetail = messageView.extend({
  tenant: z.string(),
  sent_by: z.string().nullable().meta({
    description: "The fallback sender that sent it while its own sender's circuit breaker was open (failover); null: its own sender",
  }),
  context: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  template_version: z.number().int().nullable(),
  attempts: z.number().int(),
  send_at: z.iso.datetime().nullable(),
  expires_at: z.iso.datetime().nullable(),
  queued_at: z.iso.datetime().nullable(),
  delivered_at: z.iso.datetime().nullable(),
  read_at: z.iso.datetime().nullable(),
  failed_at: z.iso.datetime().nullable(),
  error: z.object({ code: z.string(), message: z.string(), retryable: z.boolean() }).nullable(),
  media: mediaAttachment.nullable(),
  events: z.array(messageEvent),
});
export type MessageDetail = z.infer<typeof messageDetail>;

export const historyQuery = z
  .object({
    phone: text(1, 32).optional(),
    reference_id: text(1, 128).optional(),
    status: messageStatus.optional(),
    message_type: text(1, 64).optional(),
    sender: text(1, 64).optional(),
    days: z.coerce.number().int().min(1).max(3650).default(30),
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    limit: z.coerce.number().int().min(1).max(200, 'at most 200').default(50),
    skip: z.coerce.number().int().min(0).max(100_000).default(0),
    cursor: text(0, 200).optional(),
    tenant: text(1, 64).optional(),
  })
  .strict();
export type HistoryQuery = z.infer<typeof historyQuery>;

export const historyPage = z.object({
  items: z.array(messageView),
  total: z.number().int(),
  limit: z.number().int(),
  skip: z.number().int(),
  next_cursor: z.string().nullable(),
});

/** At most this many messages per send-bulk request (SPEC 2). */
export const maxBulkMessages = 1000;

/** Items are checked one by one in the route, so one bad item never rejects the others. */
export const sendBulkRequest = z
  .object({
    messages: z
      .array(z.record(z.string(), z.unknown()))
      .min(1)
      .max(maxBulkMessages, `at most ${maxBulkMessages} messages`)
      .meta({
        example: [
          { phone: '+919876543210', message_type: 'delivery_reminder', context: { customer_name: 'Asha', delivery_date: '2026-02-01' } },
        ],
      }),
  })
  .strict();

export const bulkItemResult = z.union([
  z.object({ index: z.number().int(), id: z.string(), status: messageStatus }),
  z.object({
    index: z.number().int(),
    error: z.string(),
    message: z.string(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
]);

export const sendBulkResponse = z.object({ results: z.array(bulkItemResult) });
