import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { describeZodError } from '../core/faults.ts';
import { PostError } from '../core/http-post.ts';
import type { SimulatorState } from '../core/state.ts';
import type { OutgoingWebhook } from '../core/webhook-dispatcher.ts';
import type { ResolvedOptions } from '../options.ts';
import { metaSignature } from './meta.ts';
import { metaError } from './meta-errors.ts';
import type { MetaTemplates } from './meta-template-registry.ts';

const templateFields = ['id', 'name', 'language', 'status', 'category', 'quality_score', 'rejected_reason', 'components'] as const;
/** What Meta answers when no `fields` are asked for. */
const defaultFields = ['name', 'components', 'language', 'status', 'category', 'id'];

const listQuery = z.looseObject({
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  after: z.string().optional(),
  before: z.string().optional(),
  fields: z.string().optional(),
});

const statuses = z
  .string()
  .regex(/^[A-Z_]+$/, 'must be a Meta template status in capitals, e.g. APPROVED, PAUSED, DISABLED')
  .optional();
const qualities = z.enum(['GREEN', 'YELLOW', 'RED', 'UNKNOWN']).optional();
const categories = z.enum(['UTILITY', 'MARKETING', 'AUTHENTICATION']).optional();
const templateChange = z.strictObject({
  status: statuses,
  reason: z.string().min(1).optional(),
  quality: qualities,
  category: categories,
  /** false: change the template without telling Herald (a webhook that never arrived; only a sync finds it). */
  webhook: z.boolean().default(true),
});
const bulkTemplates = z.strictObject({
  templates: z
    .array(
      z.strictObject({
        name: z.string().regex(/^[a-z0-9_]{1,512}$/, 'lowercase letters, digits and _'),
        language: z.string().min(2).max(15),
        status: statuses,
        reason: z.string().min(1).optional(),
        quality: qualities,
        category: categories,
      }),
    )
    .max(10_000),
});

const cursor = (index: number) => Buffer.from(String(index)).toString('base64url');
const uncursor = (value: string) => {
  const n = Number(Buffer.from(value, 'base64url').toString('utf8'));
  // Only cursors this list made: anything else is Meta's invalid-cursor error.
  return Number.isInteger(n) && n >= 0 && cursor(n) === value ? n : undefined;
};

/** Meta's template webhooks, signed like its message webhooks. */
function templateWebhook(options: ResolvedOptions, field: string, value: Record<string, unknown>): OutgoingWebhook {
  const body = JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{ id: options.meta.wabaId, time: Math.floor(Date.now() / 1000), changes: [{ field, value }] }],
  });
  return {
    url: `${options.webhookBaseUrl}${options.meta.webhookPath}`,
    body,
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': metaSignature(body, options.meta.appSecret) },
  };
}

/**
 * The Business Management API's template list, `GET /{version}/{waba-id}/message_templates`
 * (Bearer token like the send API, `limit`, `after`/`before` cursors, `fields`, `paging.next` only
 * while there is a next page), and its control API: `GET /_sim/templates`, `POST /_sim/templates`
 * (create or change many, no webhook), `PUT /_sim/templates/{name}/{language}` (change one and
 * post Meta's signed `message_template_status_update` / `message_template_quality_update` to
 * Herald), `POST /_sim/templates/reset` (back to the seeded ones).
 */
export async function metaTemplatesApi(app: FastifyInstance, opts: { state: SimulatorState; templates: MetaTemplates }): Promise<void> {
  const { options, dispatcher } = opts.state;
  const { templates } = opts;
  const expectedAuthorization = `Bearer ${options.meta.accessToken}`;

  app.get<{ Params: { version: string; wabaId: string } }>('/:version/:wabaId/message_templates', async (request, reply) => {
    if (request.headers.authorization !== expectedAuthorization) {
      const error = metaError(190, { message: '(#190) Invalid OAuth access token - Cannot parse access token' });
      return reply.code(error.http).send(error.body);
    }
    if (request.params.wabaId !== options.meta.wabaId) {
      const message = `Unsupported get request. Object with ID '${request.params.wabaId}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`;
      const error = metaError(100, { message, details: message, type: 'GraphMethodException', subcode: 33 });
      return reply.code(error.http).send(error.body);
    }
    const query = listQuery.safeParse(request.query ?? {});
    if (!query.success) {
      const { field, message } = describeZodError(query.error);
      const error = metaError(100, { message: `(#100) Param ${message}`, details: field });
      return reply.code(error.http).send(error.body);
    }
    const limit = query.data.limit ?? 25;
    const all = templates.list();
    const after = query.data.after === undefined ? undefined : uncursor(query.data.after);
    const before = query.data.before === undefined ? undefined : uncursor(query.data.before);
    if ((query.data.after !== undefined && after === undefined) || (query.data.before !== undefined && before === undefined)) {
      const error = metaError(100, { message: '(#100) Invalid cursor' });
      return reply.code(error.http).send(error.body);
    }
    const start = after !== undefined ? after + 1 : before !== undefined ? Math.max(0, before - limit) : 0;
    const page = all.slice(start, start + limit);
    const wanted = query.data.fields ? query.data.fields.split(',').map((f) => f.trim()) : defaultFields;
    const data = page.map((t) => {
      const full: Record<(typeof templateFields)[number], unknown> = {
        id: t.id,
        name: t.name,
        language: t.language,
        status: t.status,
        category: t.category,
        quality_score: { score: t.quality, date: Math.floor(Date.now() / 1000) },
        rejected_reason: t.status === 'REJECTED' ? t.reason : 'NONE',
        components: [{ type: 'BODY', text: `${t.name} ({{1}})` }],
      };
      // Graph returns the id whatever is asked.
      return Object.fromEntries(Object.entries(full).filter(([k]) => k === 'id' || wanted.includes(k)));
    });
    const paging: Record<string, unknown> = {};
    if (page.length > 0) {
      paging.cursors = { before: cursor(start), after: cursor(start + page.length - 1) };
      if (start + page.length < all.length) {
        const next = new URL(`${request.protocol}://${request.host}${request.url}`);
        next.searchParams.set('after', cursor(start + page.length - 1));
        next.searchParams.delete('before');
        paging.next = next.toString();
      }
    }
    return { data, ...(page.length > 0 ? { paging } : {}) };
  });

  app.get('/_sim/templates', async () => ({ templates: templates.list() }));

  app.post('/_sim/templates', async (request, reply) => {
    const input = bulkTemplates.safeParse(request.body ?? {});
    if (!input.success) return reply.code(400).send({ error: 'invalid_templates', ...describeZodError(input.error) });
    return { templates: input.data.templates.map((t) => templates.upsert(t)) };
  });

  app.post('/_sim/templates/reset', async () => {
    templates.reset();
    return { templates: templates.list().length };
  });

  app.put<{ Params: { name: string; language: string } }>('/_sim/templates/:name/:language', async (request, reply) => {
    const input = templateChange.safeParse(request.body ?? {});
    if (!input.success) return reply.code(400).send({ error: 'invalid_template', ...describeZodError(input.error) });
    const { name, language } = request.params;
    const before = templates.get(name, language);
    const { webhook, ...change } = input.data;
    // A status without a reason clears the previous one.
    const template = templates.upsert({ name, language, ...change, ...(change.status && !change.reason ? { reason: 'NONE' } : {}) });
    const posted: OutgoingWebhook[] = [];
    if (webhook && change.status) {
      posted.push(
        templateWebhook(options, 'message_template_status_update', {
          event: template.status,
          message_template_id: Number(template.id),
          message_template_name: template.name,
          message_template_language: template.language,
          // Meta gives a pause or a disable the reason NONE and says what happened in other_info.
          ...(template.status === 'PAUSED' || template.status === 'DISABLED'
            ? {
                reason: 'NONE',
                other_info: {
                  title: template.status === 'PAUSED' ? 'FIRST_PAUSE' : 'DISABLED',
                  description:
                    template.reason === 'NONE'
                      ? `Your WhatsApp message template has been ${template.status.toLowerCase()}.`
                      : template.reason,
                },
              }
            : { reason: template.reason }),
          message_template_category: template.category,
        }),
      );
    }
    if (webhook && change.quality) {
      posted.push(
        templateWebhook(options, 'message_template_quality_update', {
          previous_quality_score: before?.quality ?? 'UNKNOWN',
          new_quality_score: template.quality,
          message_template_id: Number(template.id),
          message_template_name: template.name,
          message_template_language: template.language,
        }),
      );
    }
    const herald = [];
    for (const w of posted) herald.push({ url: w.url, posted: JSON.parse(w.body) as unknown, herald: await forward(w) });
    return { template, webhooks: herald };
  });

  // Herald being down is an answer the caller wants to see, not a simulator failure.
  async function forward(webhook: OutgoingWebhook) {
    try {
      const answer = await dispatcher.postOnce(webhook);
      let body: unknown = answer.body;
      try {
        body = JSON.parse(answer.body);
      } catch {}
      return { status: answer.status, body, error: null };
    } catch (error) {
      return { status: null, body: null, error: error instanceof PostError ? error.code : String(error) };
    }
  }
}
