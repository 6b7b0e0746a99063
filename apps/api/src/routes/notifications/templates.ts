import {
  badRequest,
  builtinVariables,
  channels,
  compileTemplate,
  conflict,
  contextKey,
  contextSchema,
  declaredVariables,
  deriveVariables,
  fieldError,
  mappingIssues,
  maxContextKeys,
  notFound,
  TemplateCompileError,
  type TemplateDocument,
  TemplateRenderError,
  templateCategory,
  templateProviders,
} from '@herald/shared';
import { StoreConflictError } from '@herald/store';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { adminOnly, anyRole } from '../../plugins/auth.ts';
import { finderOf, providerStatusField, providerStatusOf } from '../../services/template-approval.ts';
import { errorResponses } from '../schemas.ts';

const typeParam = z.object({
  type: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,63}$/, 'lowercase letters, digits and _, starting with a letter')
    .meta({ example: 'delivery_reminder' }),
});

export const templateView = z
  .object({
    type: z.string(),
    content: z.string(),
    active: z.boolean(),
    version: z.number().int(),
    variables: z.array(z.string()),
    category: z.string(),
    providers: templateProviders,
    prefer_text_in_window: z.boolean().meta({
      description:
        "Inside the recipient's 24-hour window the rendered text is sent, outside it the provider template (chosen per message when it is sent)",
    }),
    updated_at: z.iso.datetime(),
    updated_by: z.string(),
    provider_status: providerStatusField,
  })
  .meta({
    id: 'Template',
    example: {
      type: 'delivery_reminder',
      content: 'Hi {{customer_name}}, your {{brand_name}} delivery is scheduled for {{delivery_date}}.',
      active: true,
      version: 1,
      variables: ['customer_name', 'delivery_date'],
      category: 'utility',
      providers: {},
      prefer_text_in_window: false,
      updated_at: '2026-01-01T00:00:00.000Z',
      updated_by: 'system',
      provider_status: {
        meta: {
          name: 'delivery_reminder',
          language: 'en_US',
          status: 'APPROVED',
          quality: 'GREEN',
          reason: null,
          category: 'UTILITY',
          last_synced_at: '2026-01-01T00:00:00.000Z',
          updated_at: '2026-01-01T00:00:00.000Z',
        },
      },
    },
  });

const templatePut = z
  .object({
    content: z.string().min(1).max(4096).meta({ example: 'Hi {{customer_name}}, your order {{order_id}} is on its way.' }),
    active: z.boolean().optional(),
    category: templateCategory.optional(),
    providers: templateProviders.optional(),
    /**
     * Send the rendered text inside the recipient's 24-hour window and the provider template
     * outside it. Needs a provider mapping. Absent: the saved value (false for a new template).
     */
    prefer_text_in_window: z.boolean().optional(),
    /**
     * Context keys a message must carry beyond those the content prints, for the provider mappings
     * (a media link, a button's URL suffix): added to the derived variables.
     */
    variables: z
      .array(z.string().regex(contextKey, 'must be a context key ([A-Za-z_][A-Za-z0-9_]*)'))
      .max(maxContextKeys)
      .optional()
      .meta({ example: ['invoice_url'] }),
  })
  .strict();

const toTemplateView = (t: Omit<TemplateDocument, '_id'>, providerStatus: z.infer<typeof providerStatusField> = {}) => ({
  type: t.type,
  content: t.content,
  active: t.active,
  version: t.version,
  variables: t.variables,
  category: t.category,
  providers: t.providers ?? {},
  prefer_text_in_window: t.prefer_text_in_window ?? false,
  updated_at: new Date(t.updated_at).toISOString(),
  updated_by: t.updated_by,
  provider_status: providerStatus,
});

/**
 * Templates are global to a deployment (SPEC 2). A PUT compiles the content and derives its
 * variables before anything is saved, writes the new version to both collections, and announces
 * it on Redis so every API and worker process reloads within moments. Rolling back is a PUT of an
 * old version's content: it becomes a new version, so history only ever grows.
 */
const route: FastifyPluginAsyncZod = async (app) => {
  const tags = ['templates'];
  const channel = channels(app.config.QUEUE_PREFIX).templates;

  app.get(
    '/templates',
    {
      preHandler: app.authorize(anyRole),
      schema: { summary: 'List templates', tags, response: { 200: z.object({ items: z.array(templateView) }), ...errorResponses } },
    },
    async () => {
      const [docs, states] = await Promise.all([app.store.templates.list(), app.store.providerTemplates.list('meta')]);
      const find = finderOf(states);
      return { items: docs.map((d) => toTemplateView(d, providerStatusOf(d, find))) };
    },
  );

  app.get(
    '/templates/:type',
    {
      preHandler: app.authorize(anyRole),
      schema: { summary: 'One template', tags, params: typeParam, response: { 200: templateView, ...errorResponses } },
    },
    async (request) => {
      const doc = await app.store.templates.get(request.params.type);
      if (!doc) throw notFound(`no template ${request.params.type}`);
      const meta = doc.providers?.meta;
      const state = meta ? await app.store.providerTemplates.get('meta', meta.name, meta.language) : null;
      const providerStatus = providerStatusOf(doc, () => state);
      return toTemplateView(doc, providerStatus);
    },
  );

  app.get(
    '/templates/:type/versions',
    {
      preHandler: app.authorize(anyRole),
      schema: {
        summary: 'Every saved version of a template, newest first',
        description: 'To roll back, PUT the content (and flags) of an old version: it is saved as a new version.',
        tags,
        params: typeParam,
        response: { 200: z.object({ items: z.array(templateView) }), ...errorResponses },
      },
    },
    async (request) => {
      const docs = await app.store.templates.versions(request.params.type);
      if (docs.length === 0) throw notFound(`no template ${request.params.type}`);
      return { items: docs.map((d) => toTemplateView(d)) };
    },
  );

  app.put(
    '/templates/:type',
    {
      preHandler: app.authorize(adminOnly),
      schema: {
        summary: 'Create or update a template',
        description:
          "Compiles the content and derives its variables before saving (a template that does not compile is a 400 naming the error); `variables` adds context keys only the provider mappings read (a media link, a URL button suffix). Every context key a mapping names must be a variable of the template, and each mapping must be one its provider can send (else a 400 naming the field, e.g. `providers.meta.buttons[1].suffix_from`). `prefer_text_in_window: true` sends the rendered text inside the recipient's 24-hour window and the provider template outside it; it needs a provider mapping (else a 400 naming `prefer_text_in_window`). Every version is kept; workers pick the change up within seconds.",
        tags,
        params: typeParam,
        body: templatePut,
        response: { 200: templateView, 201: templateView, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { type } = request.params;
      const body = request.body;
      let variables: string[];
      try {
        variables = deriveVariables(body.content);
        compileTemplate(type, 0, body.content, variables);
      } catch (err) {
        if (err instanceof TemplateCompileError) throw fieldError('content', `does not compile: ${err.message}`);
        throw err;
      }
      const current = await app.store.templates.get(type);
      // A PUT without variables keeps the ones the saved version declared beyond its content.
      for (const key of body.variables ?? (current ? declaredVariables(current) : [])) {
        if (!variables.includes(key) && !(builtinVariables as readonly string[]).includes(key)) variables.push(key);
      }
      // A PUT without providers keeps the saved ones: they must still fit the new variables.
      const issues = mappingIssues(body.providers ?? current?.providers ?? {}, variables);
      const firstIssue = issues[0];
      if (firstIssue) throw badRequest(`${firstIssue.path}: ${firstIssue.message}`, issues);
      const providers = body.providers ?? current?.providers ?? {};
      const preferText = body.prefer_text_in_window ?? current?.prefer_text_in_window ?? false;
      if (preferText && Object.keys(providers).length === 0) {
        throw fieldError(
          'prefer_text_in_window',
          'needs a provider mapping (providers.meta, .twilio or .myoperator) to send outside the window',
        );
      }

      const now = new Date();
      const next: Omit<TemplateDocument, '_id'> = {
        type,
        content: body.content,
        active: body.active ?? current?.active ?? true,
        version: (current?.version ?? 0) + 1,
        variables,
        category: body.category ?? current?.category ?? 'utility',
        providers,
        ...(preferText ? { prefer_text_in_window: true } : {}),
        updated_at: now,
        updated_by: request.principal.sub,
      };
      try {
        await app.store.templates.save(next, current);
      } catch (err) {
        if (err instanceof StoreConflictError) throw conflict(err.message);
        throw err;
      }
      await app.templates.reload();
      await app.redis.publish(channel, JSON.stringify({ type, version: next.version }));
      request.log.info({ type, version: next.version }, 'template saved');
      const providerStatus = providerStatusOf(next, (n, l) => app.providerTemplates.get('meta', n, l));
      return reply.code(current ? 200 : 201).send(toTemplateView(next, providerStatus));
    },
  );

  app.post(
    '/templates/:type/preview',
    {
      preHandler: app.authorize(anyRole),
      schema: {
        summary: 'Render a template with a context; nothing is sent',
        tags,
        params: typeParam,
        body: z
          .object({ context: contextSchema.default({}).meta({ example: { customer_name: 'Asha', delivery_date: '2026-02-01' } }) })
          .strict(),
        response: {
          200: z.object({ type: z.string(), version: z.number().int(), text: z.string(), length: z.number().int() }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const doc = await app.store.templates.get(request.params.type);
      if (!doc) throw notFound(`no template ${request.params.type}`);
      try {
        const text = app.templates.compiled(doc).render(request.body.context, app.config.BRAND_NAME);
        return { type: doc.type, version: doc.version, text, length: text.length };
      } catch (err) {
        if (err instanceof TemplateRenderError) {
          const missing = doc.variables.filter((v) => !Object.hasOwn(request.body.context, v));
          throw fieldError(missing[0] ? `context.${missing[0]}` : 'context', err.message);
        }
        throw err;
      }
    },
  );
};

export default route;
