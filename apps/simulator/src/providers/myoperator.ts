import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { digitsOf } from '../core/phone.ts';
import type { ProviderWebhooks, SignatureMode } from '../core/provider.ts';
import { scheduleStatuses } from '../core/schedule-statuses.ts';
import { type MyOperatorAccount, SimSenders } from '../core/senders.ts';
import type { SimulatorState } from '../core/state.ts';
import type { MessageRecord, RequestOutcome } from '../core/store.ts';
import type { OutgoingWebhook } from '../core/webhook-dispatcher.ts';
import type { ResolvedOptions } from '../options.ts';
import { myOperatorError } from './myoperator-errors.ts';

export const MYOPERATOR_PROVIDER = 'myoperator';

const sendSchema = z.object({
  phone_number_id: z.string().min(1),
  customer_country_code: z.string().regex(/^\d{1,4}$/),
  customer_number: z.string().regex(/^\d{4,14}$/),
  myop_ref_id: z.string().min(1),
  data: z.discriminatedUnion('type', [
    z.object({ type: z.literal('text'), context: z.object({ body: z.string().min(1).max(4096) }) }),
    z.object({
      type: z.literal('template'),
      context: z.object({
        template_name: z.string().min(1),
        language: z.string().min(2),
        body: z.record(z.string(), z.string()).optional(),
      }),
    }),
  ]),
});

/** MyOperator's v2 webhooks: a JSON envelope, authenticated by a shared secret in a header. */
export function createMyOperatorWebhooks(
  options: ResolvedOptions,
  senders = new SimSenders(options),
): ProviderWebhooks & {
  status(record: MessageRecord, status: string, sequence: number, errorCode?: number): OutgoingWebhook;
} {
  const url = `${options.webhookBaseUrl}${options.myoperator.webhookPath}`;
  function signed(body: string, signature: SignatureMode, account: MyOperatorAccount): OutgoingWebhook {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (signature === 'valid') headers[options.myoperator.webhookHeader] = account.webhookSecret;
    if (signature === 'invalid') headers[options.myoperator.webhookHeader] = `${account.webhookSecret}-wrong`;
    return { url, body, headers };
  }
  const envelope = (
    account: MyOperatorAccount,
    type: string,
    direction: string,
    sequence: number,
    customer: string,
    system: string,
    payload: object,
    atMs = Date.now(),
  ) => ({
    event_id: randomUUID(),
    company_id: account.companyId,
    ...(account.phoneNumberId ? { phone_number_id: account.phoneNumberId } : {}),
    event_type: type,
    event_sequence: sequence,
    timestamp: Math.floor(atMs / 1000),
    channel: 'whatsapp',
    direction,
    system_identifier: system,
    customer_identifier: customer,
    payload,
  });
  return {
    status(record, status, sequence, errorCode) {
      const error = errorCode !== undefined ? myOperatorError(errorCode).body : undefined;
      const account = senders.myoperator(record.sender);
      const payload = {
        myop_ref_id: record.id,
        status,
        ...(error ? { error_code: String(error.code), error_message: String(error.message) } : {}),
      };
      return signed(
        JSON.stringify(envelope(account, 'whatsapp.message.status', 'outbound', sequence, digitsOf(record.to), record.id, payload)),
        'valid',
        account,
      );
    },
    // MyOperator's documentation shows no reply or button events (PROVIDERS.md).
    taps: [],
    inbound(input) {
      const from = digitsOf(input.from);
      const account = senders.myoperator(input.sender);
      const payload = envelope(
        account,
        'whatsapp.message.received',
        'inbound',
        1,
        from,
        randomUUID(),
        {
          from,
          name: input.name ?? 'Simulated User',
          text: input.text,
        },
        input.atMs,
      );
      return { ...signed(JSON.stringify(payload), 'valid', account), payload };
    },
    custom(body, signature, sender) {
      return signed(body, signature, senders.myoperator(sender));
    },
  };
}

/** The send endpoint (`POST /chat/messages` by default), Bearer key + company id header. */
export async function myOperatorApi(app: FastifyInstance, opts: { state: SimulatorState }): Promise<void> {
  const { state } = opts;
  const { options, store, faults, held } = state;
  const webhooks = createMyOperatorWebhooks(options, state.senders);

  function fail(reply: FastifyReply, to: string | null, code: number, outcome?: RequestOutcome): FastifyReply {
    const error = myOperatorError(code);
    store.addRequest({
      atMs: Date.now(),
      provider: MYOPERATOR_PROVIDER,
      to,
      outcome: outcome ?? `error:${code}`,
      http_status: error.http,
      message_id: null,
    });
    return reply.code(error.http).send(error.body);
  }

  app.post(options.myoperator.sendPath, async (request, reply) => {
    const raw = (request.body ?? {}) as { customer_country_code?: unknown; customer_number?: unknown };
    const guessTo = typeof raw.customer_number === 'string' ? `+${String(raw.customer_country_code ?? '')}${raw.customer_number}` : null;
    // A company added with POST /_sim/senders takes its own key; any other, the configured one.
    const companyHeader = request.headers['x-myop-company-id'];
    const account = (typeof companyHeader === 'string' ? state.senders.addedMyOperator(companyHeader) : undefined) ?? options.myoperator;
    if (request.headers.authorization !== `Bearer ${account.apiKey}`) {
      store.addRequest({
        atMs: Date.now(),
        provider: MYOPERATOR_PROVIDER,
        to: guessTo,
        outcome: 'error:401',
        http_status: 401,
        message_id: null,
      });
      return reply.code(401).send({ status: 'error', code: '401', message: 'Unauthorized' });
    }
    if (companyHeader !== account.companyId) return fail(reply, guessTo, 403);
    const parsed = sendSchema.safeParse(request.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      store.addRequest({
        atMs: Date.now(),
        provider: MYOPERATOR_PROVIDER,
        to: guessTo,
        outcome: 'error:400',
        http_status: 400,
        message_id: null,
      });
      return reply
        .code(400)
        .send({ status: 'error', code: '400', message: `${issue?.path.join('.') ?? 'body'}: ${issue?.message ?? 'invalid'}` });
    }
    const message = parsed.data;
    const to = `+${message.customer_country_code}${message.customer_number}`;

    if (faults.isDown(MYOPERATOR_PROVIDER, message.phone_number_id)) return fail(reply, to, 503, 'down');
    const outcome = faults.decide(to, message.phone_number_id);
    if (outcome.latencyMs > 0) await held.hold(outcome.latencyMs);
    if (outcome.kind === 'error') return fail(reply, to, outcome.code);
    if (outcome.kind === 'http_429') {
      reply.header('retry-after', String(outcome.retryAfterS));
      store.addRequest({ atMs: Date.now(), provider: MYOPERATOR_PROVIDER, to, outcome: '429', http_status: 429, message_id: null });
      return reply.code(429).send({ status: 'error', code: '429', message: 'Too many requests' });
    }

    const record: MessageRecord = {
      // MyOperator returns no id of its own here: the sender's myop_ref_id is the correlation key.
      id: message.myop_ref_id,
      provider: MYOPERATOR_PROVIDER,
      to,
      type: message.data.type,
      text: message.data.type === 'text' ? message.data.context.body : null,
      template: message.data.type === 'template' ? message.data.context : null,
      receivedAtMs: Date.now(),
      webhooks: [],
      sender: account.companyId,
    };
    store.addMessage(record);
    store.addRequest({
      atMs: record.receivedAtMs,
      provider: MYOPERATOR_PROVIDER,
      to,
      outcome: outcome.kind === 'timeout' ? 'timeout' : 'accepted',
      http_status: 200,
      message_id: record.id,
    });
    scheduleStatuses(
      state,
      record,
      (status, sequence, errorCode) => webhooks.status(record, status, sequence, errorCode),
      outcome.kind === 'timeout',
    );
    if (outcome.kind === 'timeout') await held.hold(outcome.holdMs);
    return reply.send({ status: 'success', code: '200', message: 'Message Sent' });
  });
}
