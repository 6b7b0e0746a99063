import { createHmac } from 'node:crypto';
import { z } from 'zod';
import type { InboundMessage, StatusEvent } from '../schemas/jobs.ts';
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
          ...(err ? { error: { code: String(err.code ?? 'unknown'), message: err.message ?? err.title ?? 'failed' } } : {}),
        });
      }
      for (const m of change.value.messages ?? []) {
        if (m.type !== 'text' || !m.text) continue;
        inbound.push({ from: `+${m.from.replace(/^\+/, '')}`, text: m.text.body, at: unixToIso(m.timestamp), provider_message_id: m.id });
      }
    }
  }
  return { statuses, inbound };
}
