import { createHmac } from 'node:crypto';
import { z } from 'zod';
import type { InboundMessage, StatusEvent } from '../schemas/jobs.ts';
import type { InboundReply } from '../schemas/message.ts';
import { safeEqual } from '../security/safe-equal.ts';
import type { ParsedWebhook, WebhookAdapter, WebhookRequest } from './provider.ts';

/**
 * Meta's webhook side alone: the API verifies and parses webhooks with only the app secret, no
 * sending credentials.
 */
export class MetaWebhooks implements WebhookAdapter {
  readonly name = 'meta' as const;
  readonly signatureHeader = 'x-hub-signature-256';
  readonly #appSecret: string | undefined;
  constructor(appSecret: string | undefined) {
    this.#appSecret = appSecret;
  }

  /** X-Hub-Signature-256 over the raw bytes, compared in constant time. */
  verifyWebhook(request: WebhookRequest): boolean {
    const header = request.headers['x-hub-signature-256'];
    if (!this.#appSecret || typeof header !== 'string' || !header.startsWith('sha256=')) return false;
    const given = Buffer.from(header.slice('sha256='.length), 'hex');
    const expected = createHmac('sha256', this.#appSecret).update(request.rawBody).digest();
    return safeEqual(given, expected);
  }

  parseWebhook(request: WebhookRequest): ParsedWebhook {
    return parseMetaWebhook(JSON.parse(request.rawBody.toString('utf8')));
  }
}

const metaWebhook = z.object({
  object: z.string(),
  entry: z.array(
    z.object({
      changes: z.array(
        z.object({
          field: z.string().optional(),
          value: z
            .object({
              statuses: z
                .array(
                  z.object({
                    id: z.string(),
                    status: z.string(),
                    timestamp: z.union([z.string(), z.number()]),
                    recipient_id: z.string().optional(),
                    biz_opaque_callback_data: z.string().optional(),
                    errors: z
                      .array(z.object({ code: z.number().optional(), title: z.string().optional(), message: z.string().optional() }))
                      .optional(),
                  }),
                )
                .optional(),
              messages: z
                .array(
                  z.object({
                    from: z.string(),
                    id: z.string(),
                    timestamp: z.union([z.string(), z.number()]),
                    type: z.string(),
                    text: z.object({ body: z.string() }).optional(),
                    // Replies (Meta's ButtonMessage and InteractiveMessageReply): read loosely, so
                    // that one odd message never costs the statuses of the same request.
                    context: z.object({ id: z.string().optional() }).loose().optional(),
                    button: z.object({ payload: z.string().optional(), text: z.string().optional() }).loose().optional(),
                    interactive: z
                      .object({
                        type: z.string().optional(),
                        button_reply: z.object({ id: z.string().optional(), title: z.string().optional() }).loose().optional(),
                        list_reply: z
                          .object({ id: z.string().optional(), title: z.string().optional(), description: z.string().optional() })
                          .loose()
                          .optional(),
                      })
                      .loose()
                      .optional(),
                  }),
                )
                .optional(),
            })
            .loose(),
        }),
      ),
    }),
  ),
});

const unixToIso = (ts: string | number) => {
  const n = Number(ts);
  return Number.isFinite(n) ? new Date(n * 1000).toISOString() : new Date().toISOString();
};

export function parseMetaWebhook(json: unknown): ParsedWebhook {
  const body = metaWebhook.parse(json);
  const statuses: StatusEvent[] = [];
  const inbound: InboundMessage[] = [];
  for (const entry of body.entry) {
    for (const change of entry.changes) {
      for (const s of change.value.statuses ?? []) {
        if (s.status !== 'sent' && s.status !== 'delivered' && s.status !== 'read' && s.status !== 'failed') continue;
        const err = s.errors?.[0];
        statuses.push({
          provider_message_id: s.id,
          status: s.status,
          at: unixToIso(s.timestamp),
          ...(s.recipient_id ? { recipient: s.recipient_id } : {}),
          ...(s.biz_opaque_callback_data ? { herald_id: s.biz_opaque_callback_data } : {}),
          ...(err ? { error: { code: String(err.code ?? 'unknown'), message: err.message ?? err.title ?? 'failed' } } : {}),
        });
      }
      for (const m of change.value.messages ?? []) {
        const base = { from: `+${m.from.replace(/^\+/, '')}`, at: unixToIso(m.timestamp), provider_message_id: m.id };
        const replyTo = m.context?.id ? { reply_to: m.context.id } : {};
        if (m.type === 'text' && m.text) {
          inbound.push({ ...base, text: m.text.body, ...replyTo });
          continue;
        }
        const reply = metaReply(m);
        if (reply) inbound.push({ ...base, text: reply.title, ...replyTo, reply });
      }
    }
  }
  return { statuses, inbound };
}

type MetaInbound = NonNullable<z.infer<typeof metaWebhook>['entry'][number]['changes'][number]['value']['messages']>[number];

/**
 * A quick-reply button of a template (`type: button`: `button.payload`, `button.text`) or an
 * interactive reply button or list row (`type: interactive`: `button_reply` / `list_reply` with
 * `id`, `title`); anything else (Flows' `nfm_reply`, media, …) is not a reply Herald forwards.
 */
function metaReply(m: MetaInbound): InboundReply | undefined {
  if (m.type === 'button' && m.button?.text !== undefined) {
    return { kind: 'quick_reply', payload: m.button.payload ?? m.button.text, title: m.button.text };
  }
  if (m.type !== 'interactive' || !m.interactive) return undefined;
  const { type, button_reply: button, list_reply: row } = m.interactive;
  if (type === 'button_reply' && button?.id !== undefined)
    return { kind: 'button_reply', payload: button.id, title: button.title ?? button.id };
  if (type === 'list_reply' && row?.id !== undefined) {
    return {
      kind: 'list_reply',
      payload: row.id,
      title: row.title ?? row.id,
      ...(row.description ? { description: row.description } : {}),
    };
  }
  return undefined;
}
