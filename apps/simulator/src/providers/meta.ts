import { createHmac, randomUUID } from 'node:crypto';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { formatPath } from '../core/faults.ts';
import { digitsOf } from '../core/phone.ts';
import type { ProviderWebhooks, SignatureMode } from '../core/provider.ts';
import { scheduleStatuses } from '../core/schedule-statuses.ts';
import { type MetaAccount, SimSenders } from '../core/senders.ts';
import type { SimulatorState } from '../core/state.ts';
import type { PlannedStatus } from '../core/status-plan.ts';
import type { MessageRecord, RequestOutcome } from '../core/store.ts';
import type { OutgoingWebhook } from '../core/webhook-dispatcher.ts';
import type { ResolvedOptions } from '../options.ts';
import { META_ERRORS, metaError, metaStatusError } from './meta-errors.ts';

export const META_PROVIDER = 'meta';

// Meta checks the envelope before the message itself; zod reports issues in key order, so the
// first issue names the first wrong field the way Meta would.
const envelopeSchema = z.object({
  messaging_product: z.literal('whatsapp'),
  recipient_type: z.literal('individual').optional(),
  to: z.string().min(1),
  // Meta treats a message without a type as text.
  type: z.string().optional(),
  // Echoed in every status webhook of the message; Cloud API does not process it. At most 512.
  biz_opaque_callback_data: z.string().max(512).optional(),
});

const textSchema = z.object({
  text: z.object({
    body: z.string().min(1).max(4096),
    preview_url: z.boolean().optional(),
  }),
});

// Template components as Meta's spec (business-messaging-api v23.0: TemplateObject,
// ParameterObject, ButtonParameterObject, MediaObject) and its send guides define them; copy code
// buttons (sub_type copy_code, a coupon_code parameter) are in Meta's guide though not in the spec.
const mediaLink = z
  .string()
  .min(1)
  .refine((link) => /^https?:\/\/[^\s/]+/.test(link), 'must be an http(s) URL');
// A media object: exactly one of `id` or `link` (MediaObject's oneOf).
const mediaObject = (extra: z.ZodRawShape) =>
  z
    .strictObject({ id: z.string().min(1).optional(), link: mediaLink.optional(), ...extra })
    .refine((media) => (media.id === undefined) !== (media.link === undefined), {
      message: 'must have exactly one of id or link',
      path: ['link'],
    });

const textParameter = z.strictObject({
  type: z.literal('text'),
  text: z.string().min(1).max(32768),
  // Named-parameter templates (parameter_format NAMED) name each parameter.
  parameter_name: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/)
    .optional(),
});
const headerParameter = z.discriminatedUnion('type', [
  textParameter,
  z.strictObject({ type: z.literal('image'), image: mediaObject({}) }),
  z.strictObject({ type: z.literal('video'), video: mediaObject({}) }),
  z.strictObject({ type: z.literal('document'), document: mediaObject({ filename: z.string().min(1).optional() }) }),
]);
const bodyParameter = z.discriminatedUnion('type', [
  textParameter,
  z.strictObject({
    type: z.literal('currency'),
    currency: z.strictObject({ fallback_value: z.string(), code: z.string().length(3), amount_1000: z.number().int() }),
  }),
  z.strictObject({ type: z.literal('date_time'), date_time: z.strictObject({ fallback_value: z.string() }) }),
]);
// Buttons are numbered from 0 (at most 10); Meta's guides send the index as a string or a number.
const buttonIndex = z.union([z.string().regex(/^\d$/, 'must be a button position 0-9'), z.number().int().min(0).max(9)]);
const buttonComponent = z.discriminatedUnion('sub_type', [
  z.strictObject({
    type: z.literal('button'),
    sub_type: z.literal('url'),
    index: buttonIndex,
    parameters: z.tuple([z.strictObject({ type: z.literal('text'), text: z.string().min(1).max(2000) })]),
  }),
  z.strictObject({
    type: z.literal('button'),
    sub_type: z.literal('quick_reply'),
    index: buttonIndex,
    parameters: z.tuple([z.strictObject({ type: z.literal('payload'), payload: z.string().min(1) })]),
  }),
  z.strictObject({
    type: z.literal('button'),
    sub_type: z.literal('copy_code'),
    index: buttonIndex,
    // "The coupon code to be copied when the customer taps the button. Only accepting alphanumeric
    // characters"; coupon codes are limited to 15 characters.
    parameters: z.tuple([
      z.strictObject({
        type: z.literal('coupon_code'),
        coupon_code: z
          .string()
          .min(1)
          .max(15)
          .regex(/^[A-Za-z0-9]+$/, 'must be alphanumeric'),
      }),
    ]),
  }),
]);
const componentSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('header'), parameters: z.array(headerParameter).min(1).max(1) }),
  z.strictObject({ type: z.literal('body'), parameters: z.array(bodyParameter).max(100) }),
  buttonComponent,
]);

const templateSchema = z.object({
  template: z.object({
    name: z.string().min(1),
    language: z.object({ code: z.string().min(1), policy: z.literal('deterministic').optional() }),
    components: z
      .array(componentSchema)
      .optional()
      .superRefine((components, ctx) => {
        const seen = new Set<string>();
        components?.forEach((component, i) => {
          const key = component.type === 'button' ? `button:${String(component.index)}` : component.type;
          if (seen.has(key)) ctx.addIssue({ code: 'custom', path: [i, 'type'], message: `is a second ${key} component`, input: component });
          seen.add(key);
        });
      }),
  }),
});

// Document and image messages (DocumentMessage, ImageMessage): a media object with an optional
// caption, and for a document an optional filename.
const mediaMessageSchemas = {
  document: z.object({ document: mediaObject({ caption: z.string().max(1024).optional(), filename: z.string().min(1).optional() }) }),
  image: z.object({ image: mediaObject({ caption: z.string().max(1024).optional() }) }),
} as const;
type MediaType = keyof typeof mediaMessageSchemas;
const isMediaType = (type: string): type is MediaType => Object.hasOwn(mediaMessageSchemas, type);

// Real Meta message types the simulator does not model: it answers them as unsupported rather
// than as malformed.
const OTHER_META_TYPES = new Set(['audio', 'contacts', 'interactive', 'location', 'reaction', 'sticker', 'video']);

type TemplateMessage = z.output<typeof templateSchema>;

type Validated =
  | { ok: true; to: string; type: 'text'; text: string }
  | { ok: true; to: string; type: 'template'; template: TemplateMessage['template'] }
  | { ok: true; to: string; type: MediaType; media: Record<string, unknown>; caption: string | null }
  | { ok: false; to: string | null; code: number; message: string };

export function validateSendBody(body: unknown): Validated {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, to: null, code: 100, message: 'The request body must be a JSON object.' };
  }
  const envelope = envelopeSchema.safeParse(body);
  const rawTo = (body as { to?: unknown }).to;
  const to = typeof rawTo === 'string' ? rawTo : null;
  if (!envelope.success) return { ok: false, to, ...describeIssue(envelope.error, body) };

  const type = envelope.data.type ?? 'text';
  if (type === 'text') {
    const parsed = textSchema.safeParse(body);
    if (!parsed.success) return { ok: false, to, ...describeIssue(parsed.error, body) };
    return { ok: true, to: envelope.data.to, type, text: parsed.data.text.body };
  }
  if (type === 'template') {
    const parsed = templateSchema.safeParse(body);
    if (!parsed.success) return { ok: false, to, ...describeIssue(parsed.error, body) };
    return { ok: true, to: envelope.data.to, type, template: parsed.data.template };
  }
  if (isMediaType(type)) {
    const parsed = mediaMessageSchemas[type].safeParse(body);
    if (!parsed.success) return { ok: false, to, ...describeIssue(parsed.error, body) };
    // The object exactly as posted: GET /_sim/messages shows what Meta would have received.
    const media = (body as Record<string, Record<string, unknown>>)[type] ?? {};
    const caption = typeof media.caption === 'string' ? media.caption : null;
    return { ok: true, to: envelope.data.to, type, media, caption };
  }
  if (OTHER_META_TYPES.has(type)) {
    return {
      ok: false,
      to,
      code: 131051,
      message: `The simulator does not support messages of type ${type}; use text, template, document or image.`,
    };
  }
  return {
    ok: false,
    to,
    code: 100,
    message: `Param type must be one of {text, template, document, image, ${[...OTHER_META_TYPES].join(', ')}}.`,
  };
}

// A field that is absent is Meta's 131008 (missing parameter); one that is present but wrong is 100.
function describeIssue(error: z.ZodError, body: unknown): { code: number; message: string } {
  const issue = error.issues[0];
  if (!issue) return { code: 100, message: 'Invalid parameter.' };
  const field = formatPath(issue.path);
  if (valueAt(body, issue.path) === undefined) return { code: 131008, message: `The parameter ${field} is required.` };
  switch (issue.code) {
    case 'too_big':
      return { code: 100, message: `Param ${field} must be at most ${String(issue.maximum)} characters long.` };
    case 'too_small':
      return { code: 100, message: `Param ${field} must be at least ${String(issue.minimum)} character long.` };
    case 'invalid_value':
      return { code: 100, message: `Param ${field} must be one of {${issue.values.map(String).join(', ')}}.` };
    case 'invalid_type':
      return { code: 100, message: `Param ${field} must be a ${issue.expected}.` };
    default:
      return { code: 100, message: `Param ${field} ${issue.message}.` };
  }
}

function valueAt(value: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** `sha256=<hex>` over the exact bytes posted. */
export function metaSignature(body: string, appSecret: string): string {
  return `sha256=${createHmac('sha256', appSecret).update(body).digest('hex')}`;
}

/** A Meta message id: `wamid.` and base64, like the real ones (which encode the recipient too). */
export function newWamid(toDigits: string): string {
  return `wamid.${Buffer.from(`${toDigits}${randomUUID().replaceAll('-', '').toUpperCase()}`).toString('base64')}`;
}

function unixSeconds(): string {
  return String(Math.floor(Date.now() / 1000));
}

function envelopeFor(account: MetaAccount, value: Record<string, unknown>) {
  return {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: account.wabaId,
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: account.displayPhoneNumber, phone_number_id: account.phoneNumberId },
              ...value,
            },
          },
        ],
      },
    ],
  };
}

/** Meta's webhooks, each naming its number and signed with that number's app secret. */
export function createMetaWebhooks(
  options: ResolvedOptions,
  senders = new SimSenders(options),
): ProviderWebhooks & {
  status(
    message: { id: string; to: string; phoneNumberId: string; callbackData?: string },
    status: PlannedStatus,
    errorCode?: number,
  ): OutgoingWebhook;
} {
  const url = `${options.webhookBaseUrl}${options.meta.webhookPath}`;
  function signed(body: string, signature: SignatureMode, appSecret = options.meta.appSecret): OutgoingWebhook {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (signature === 'valid') headers['x-hub-signature-256'] = metaSignature(body, appSecret);
    // Well-formed but keyed with the wrong secret: what a forger or a rotated secret produces.
    if (signature === 'invalid') headers['x-hub-signature-256'] = metaSignature(body, `${appSecret}-wrong`);
    return { url, body, headers };
  }

  return {
    status(message, status, errorCode) {
      const account = senders.meta(message.phoneNumberId);
      const payload = envelopeFor(account, {
        statuses: [
          {
            id: message.id,
            status,
            timestamp: unixSeconds(),
            recipient_id: digitsOf(message.to),
            ...(message.callbackData !== undefined ? { biz_opaque_callback_data: message.callbackData } : {}),
            ...(status === 'failed' && errorCode !== undefined
              ? { errors: [metaStatusError(META_ERRORS.has(errorCode) ? errorCode : 131000)] }
              : {}),
          },
        ],
      });
      return signed(JSON.stringify(payload), 'valid', account.appSecret);
    },
    taps: ['button', 'button_reply', 'list_reply'],
    inbound(input) {
      const from = digitsOf(input.from);
      const account = senders.meta(input.sender);
      // Meta's ButtonMessage and InteractiveMessageReply (business-messaging-api v23.0 webhook schemas).
      const context = input.replyTo ? { context: { from: account.displayPhoneNumber, id: input.replyTo } } : {};
      const tap = input.tap;
      const content =
        tap?.kind === 'button'
          ? { type: 'button', button: { payload: tap.payload, text: tap.text } }
          : tap
            ? {
                type: 'interactive',
                interactive: {
                  type: tap.kind,
                  [tap.kind]: { id: tap.id, title: tap.title, ...(tap.description ? { description: tap.description } : {}) },
                },
              }
            : { type: 'text', text: { body: input.text } };
      const payload = envelopeFor(account, {
        contacts: [{ profile: { name: input.name ?? 'Simulated User' }, wa_id: from }],
        messages: [{ ...context, from, id: newWamid(from), timestamp: String(Math.floor(input.atMs / 1000)), ...content }],
      });
      return { ...signed(JSON.stringify(payload), 'valid', account.appSecret), payload };
    },
    custom(body, signature, sender) {
      return signed(body, signature, senders.meta(sender).appSecret);
    },
  };
}

/** The Cloud API send endpoint: `POST /{version}/{phone_number_id}/messages`. */
export async function metaCloudApi(app: FastifyInstance, opts: { state: SimulatorState }): Promise<void> {
  const { options, store, faults, held } = opts.state;
  const webhooks = createMetaWebhooks(options, opts.state.senders);

  function fail(reply: FastifyReply, to: string | null, error: ReturnType<typeof metaError>, outcome?: RequestOutcome): FastifyReply {
    store.addRequest({
      atMs: Date.now(),
      provider: META_PROVIDER,
      to,
      outcome: outcome ?? `error:${error.body.error.code}`,
      http_status: error.http,
      message_id: null,
    });
    return reply.code(error.http).send(error.body);
  }

  // Malformed JSON and wrong content types get Meta's envelope, not Fastify's.
  app.setErrorHandler((error: FastifyError, _request, reply) => {
    const status = error.statusCode ?? 500;
    if (status >= 500) app.log.error(error, 'send handler failed');
    const code = status >= 500 ? 131000 : 100;
    return fail(reply, null, metaError(code, status >= 500 ? {} : { message: `(#100) ${error.message}`, details: error.message }));
  });

  app.post<{ Params: { version: string; phoneNumberId: string } }>('/:version/:phoneNumberId/messages', async (request, reply) => {
    const rawTo = (request.body as { to?: unknown } | undefined)?.to;
    // A number added with POST /_sim/senders takes its own token; any other, the configured one.
    const added = opts.state.senders.addedMeta(request.params.phoneNumberId);
    if (request.headers.authorization !== `Bearer ${(added ?? options.meta).accessToken}`) {
      reply.header('www-authenticate', 'OAuth "Facebook Platform" "invalid_token" "Invalid OAuth access token."');
      return fail(
        reply,
        typeof rawTo === 'string' ? rawTo : null,
        metaError(190, {
          message: '(#190) Invalid OAuth access token - Cannot parse access token',
          details: 'The access token is missing, malformed or not the one this app was given.',
        }),
      );
    }
    const { phoneNumberId } = request.params;
    if (!added && options.meta.phoneNumberId !== undefined && phoneNumberId !== options.meta.phoneNumberId) {
      const message = `Unsupported post request. Object with ID '${phoneNumberId}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`;
      return fail(
        reply,
        typeof rawTo === 'string' ? rawTo : null,
        metaError(100, { message, details: message, type: 'GraphMethodException', subcode: 33 }),
      );
    }

    const message = validateSendBody(request.body);
    if (!message.ok) {
      return fail(
        reply,
        message.to,
        metaError(message.code, { message: `(#${message.code}) ${message.message}`, details: message.message }),
      );
    }
    // A template the account holds but Meta will not send (paused, disabled, rejected, …).
    const refusal =
      message.type === 'template' ? opts.state.metaTemplates.refusal(message.template.name, message.template.language.code) : undefined;
    if (refusal !== undefined) return fail(reply, message.to, metaError(refusal));
    // Anything but a template needs the recipient's 24-hour window (with the option on).
    if (message.type !== 'template' && opts.state.serviceWindow.refuses(META_PROVIDER, digitsOf(message.to))) {
      return fail(reply, message.to, metaError(131047));
    }

    if (faults.isDown(META_PROVIDER, phoneNumberId)) return fail(reply, message.to, metaError(131016), 'down');
    const outcome = faults.decide(message.to, phoneNumberId);
    if (outcome.latencyMs > 0) await held.hold(outcome.latencyMs);
    // A fault code of another provider is answered as Meta's generic server error.
    if (outcome.kind === 'error') return fail(reply, message.to, metaError(META_ERRORS.has(outcome.code) ? outcome.code : 131000));
    if (outcome.kind === 'http_429') {
      reply.header('retry-after', String(outcome.retryAfterS));
      return fail(reply, message.to, metaError(130429, { http: 429 }), '429');
    }

    const toDigits = digitsOf(message.to);
    const record: MessageRecord = {
      id: newWamid(toDigits),
      provider: META_PROVIDER,
      to: message.to,
      type: message.type,
      text: message.type === 'text' ? message.text : message.type === 'document' || message.type === 'image' ? message.caption : null,
      template: message.type === 'template' ? message.template : null,
      media: message.type === 'document' || message.type === 'image' ? message.media : null,
      receivedAtMs: Date.now(),
      webhooks: [],
      sender: phoneNumberId,
    };
    store.addMessage(record);
    store.addRequest({
      atMs: record.receivedAtMs,
      provider: META_PROVIDER,
      to: message.to,
      outcome: outcome.kind === 'timeout' ? 'timeout' : 'accepted',
      http_status: 200,
      message_id: record.id,
    });
    const callbackData = (request.body as { biz_opaque_callback_data?: string }).biz_opaque_callback_data;
    const target = { id: record.id, to: record.to, phoneNumberId, ...(callbackData !== undefined ? { callbackData } : {}) };
    scheduleStatuses(
      opts.state,
      record,
      (status, _sequence, errorCode) => webhooks.status(target, status, errorCode),
      outcome.kind === 'timeout',
    );

    const body = {
      messaging_product: 'whatsapp',
      contacts: [{ input: message.to, wa_id: toDigits }],
      messages: [{ id: record.id }],
    };
    // Accepted and recorded, but the answer comes too late for the client: it must not assume
    // that a timed-out send was not delivered.
    if (outcome.kind === 'timeout') await held.hold(outcome.holdMs);
    return reply.send(body);
  });
}
