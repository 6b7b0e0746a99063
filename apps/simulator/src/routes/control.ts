import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { describeZodError } from '../core/faults.ts';
import { PostError } from '../core/http-post.ts';
import type { InboundTap, InboundText, ProviderWebhooks } from '../core/provider.ts';
import { senderInput } from '../core/senders.ts';
import type { SimulatorState } from '../core/state.ts';
import type { Store } from '../core/store.ts';

export interface ControlRoutesOptions {
  state: SimulatorState;
  /** Webhook builders by provider name; the first one is the default. */
  providers: Record<string, ProviderWebhooks>;
}

/** `/_sim/*`: what tests and benchmarks use to set faults and look at what happened. */
export async function controlRoutes(app: FastifyInstance, opts: ControlRoutesOptions): Promise<void> {
  const { store, faults, dispatcher, held } = opts.state;
  const providerNames = Object.keys(opts.providers) as [string, ...string[]];
  const provider = z.enum(providerNames).default(providerNames[0]);

  const inboundSchema = z
    .strictObject({
      // With reply_to naming a message the simulator received, its recipient by default.
      from: z.string().regex(/\d/, 'must be a phone number').optional(),
      text: z.string().min(1).optional(),
      name: z.string().min(1).optional(),
      /** When the user wrote, unix seconds (Meta's and MyOperator's webhook timestamp); default now. Twilio's webhook carries none. */
      timestamp: z.number().int().positive().optional(),
      provider,
      /** The provider id of the message answered (an id from GET /_sim/messages, or any id). */
      reply_to: z.string().min(1).optional(),
      /** The number or account that receives it (Meta phone_number_id, Twilio AccountSid, MyOperator company id). Default: the one reply_to was sent from, else the configured one. */
      sender: z.string().min(1).optional(),
      /** A template quick-reply button tap (Meta `button`, Twilio ButtonPayload/ButtonText). */
      button: z.strictObject({ payload: z.string().min(1), text: z.string().min(1) }).optional(),
      /** An interactive reply button or list row tap (Meta `interactive`). */
      interactive: z
        .strictObject({
          type: z.enum(['button_reply', 'list_reply']),
          id: z.string().min(1),
          title: z.string().min(1),
          description: z.string().min(1).optional(),
        })
        .optional(),
    })
    .refine((input) => !(input.button && input.interactive), { path: ['interactive'], message: 'give button or interactive, not both' })
    .refine((input) => input.timestamp === undefined || input.provider !== 'twilio', {
      path: ['timestamp'],
      message: "Twilio's incoming-message webhook carries no timestamp",
    })
    .refine((input) => input.text || input.button || input.interactive, {
      path: ['text'],
      message: 'is required (or button, or interactive)',
    });
  const customWebhookSchema = z.strictObject({
    // A string is posted as-is (to test exact bytes); anything else is JSON-serialised.
    body: z.unknown().refine((value) => value !== undefined, 'is required'),
    signature: z.enum(['valid', 'invalid', 'none']).default('valid'),
    provider,
    /** Sign with this number's or account's secret (one added with POST /_sim/senders). */
    sender: z.string().min(1).optional(),
  });
  const toQuery = z.object({ to: z.string().optional() });

  function badRequest(error: z.ZodError, what: string) {
    const { field, message } = describeZodError(error);
    return { error: what, field, message };
  }

  app.get('/_sim/faults', async () => faults.faults);

  app.put('/_sim/faults', async (request, reply) => {
    const result = faults.set(request.body ?? {});
    if (!result.ok) return reply.code(400).send(badRequest(result.error, 'invalid_faults'));
    return result.faults;
  });

  app.post('/_sim/reset', async () => {
    opts.state.serviceWindow.clear();
    dispatcher.cancelAll();
    held.releaseAll();
    faults.reset();
    store.clear();
    return { reset: true };
  });

  app.get('/_sim/messages', async (request, reply) => {
    const query = toQuery.safeParse(request.query);
    if (!query.success) return reply.code(400).send(badRequest(query.error, 'invalid_query'));
    return listRecords(store, query.data.to);
  });

  app.get('/_sim/stats', async () => store.counters);

  // More numbers and accounts, each with its own credentials and webhook secret (issue 13).
  app.post('/_sim/senders', async (request, reply) => {
    const input = senderInput.safeParse(request.body ?? {});
    if (!input.success) return reply.code(400).send(badRequest(input.error, 'invalid_sender'));
    opts.state.senders.add(input.data);
    return reply.code(201).send(opts.state.senders.list());
  });
  app.get('/_sim/senders', async () => opts.state.senders.list());
  app.delete('/_sim/senders', async () => {
    opts.state.senders.clear();
    return opts.state.senders.list();
  });

  app.post('/_sim/inbound', async (request, reply) => {
    const input = inboundSchema.safeParse(request.body ?? {});
    if (!input.success) return reply.code(400).send(badRequest(input.error, 'invalid_inbound'));
    const built = inboundMessage(input.data);
    if ('error' in built) return reply.code(400).send({ error: 'invalid_inbound', ...built.error });
    const webhook = opts.providers[input.data.provider]?.inbound(built.inbound);
    if (!webhook) return reply.code(400).send({ error: 'invalid_inbound', field: 'provider', message: 'provider: unknown' });
    // Posted or not, the provider has the message: it opens the window on the provider's side.
    opts.state.serviceWindow.wrote(input.data.provider, built.inbound.from.replace(/\D/g, ''), built.inbound.atMs);
    const herald = await forward(webhook);
    return { url: webhook.url, posted: webhook.payload, herald };
  });

  const serviceWindowSchema = z.strictObject({ enforce: z.boolean() });
  app.get('/_sim/service-window', async () => ({ enforce: opts.state.serviceWindow.enforce }));
  app.put('/_sim/service-window', async (request, reply) => {
    const input = serviceWindowSchema.safeParse(request.body ?? {});
    if (!input.success) return reply.code(400).send(badRequest(input.error, 'invalid_service_window'));
    opts.state.serviceWindow.enforce = input.data.enforce;
    return { enforce: opts.state.serviceWindow.enforce };
  });

  app.post('/_sim/webhook', async (request, reply) => {
    const input = customWebhookSchema.safeParse(request.body ?? {});
    if (!input.success) return reply.code(400).send(badRequest(input.error, 'invalid_webhook'));
    const body = typeof input.data.body === 'string' ? input.data.body : JSON.stringify(input.data.body);
    const webhook = opts.providers[input.data.provider]?.custom(body, input.data.signature, input.data.sender);
    if (!webhook) return reply.code(400).send({ error: 'invalid_webhook', field: 'provider', message: 'provider: unknown' });
    return { url: webhook.url, herald: await forward(webhook) };
  });

  /** The inbound message to post: the tap, the answered message, and its sender (by default the recipient of reply_to). */
  function inboundMessage(input: z.infer<typeof inboundSchema>): { inbound: InboundText } | { error: { field: string; message: string } } {
    const { button, interactive } = input;
    const tap: InboundTap | undefined = button
      ? { kind: 'button', ...button }
      : interactive
        ? { kind: interactive.type, id: interactive.id, title: interactive.title, description: interactive.description }
        : undefined;
    if (tap && !opts.providers[input.provider]?.taps.includes(tap.kind)) {
      return { error: { field: button ? 'button' : 'interactive', message: `${input.provider} does not post a ${tap.kind} reply` } };
    }
    const answered = input.reply_to ? store.getMessage(input.reply_to) : undefined;
    const from = input.from ?? answered?.to;
    if (!from) return { error: { field: 'from', message: 'from: is required (reply_to names no message the simulator received)' } };
    const atMs = input.timestamp !== undefined ? input.timestamp * 1000 : Date.now();
    const sender = input.sender ?? answered?.sender;
    return { inbound: { from, text: input.text ?? '', name: input.name, replyTo: input.reply_to, tap, atMs, sender } };
  }

  // Herald being down is an answer the caller wants to see, not a simulator failure.
  async function forward(webhook: Parameters<typeof dispatcher.postOnce>[0]) {
    try {
      const answer = await dispatcher.postOnce(webhook);
      return { status: answer.status, body: parseMaybeJson(answer.body), error: null };
    } catch (error) {
      return { status: null, body: null, error: error instanceof PostError ? error.code : String(error) };
    }
  }
}

/** The body of `GET /_sim/messages`, oldest first. */
export type RecordsResponse = ReturnType<typeof listRecords>;
/** The body of `GET /_sim/stats`. */
export type StatsResponse = Store['counters'];

function listRecords(store: Store, to: string | undefined) {
  return {
    messages: store.messages(to).map((message) => ({
      id: message.id,
      provider: message.provider,
      to: message.to,
      type: message.type,
      text: message.text,
      template: message.template,
      media: message.media ?? null,
      received_at: new Date(message.receivedAtMs).toISOString(),
      sender: message.sender ?? null,
      webhooks: message.webhooks,
    })),
    requests: store.requests(to).map((entry) => ({
      at: new Date(entry.atMs).toISOString(),
      provider: entry.provider,
      to: entry.to,
      outcome: entry.outcome,
      http_status: entry.http_status,
      message_id: entry.message_id,
    })),
  };
}

function parseMaybeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
