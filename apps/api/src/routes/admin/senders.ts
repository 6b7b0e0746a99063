import { channels, SecretBox, type SenderView, senderCreate, senderPatch, senderView, tenantField } from '@herald/shared';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { adminOnly, anyRole } from '../../plugins/auth.ts';
import { createSender, getSender, listSenders, reencryptAll, type SenderDeps, updateSender } from '../../services/senders.ts';
import { announceSenderChange } from '../../services/webhook-senders.ts';
import { errorResponses } from '../schemas.ts';

const idParam = z.object({ id: z.string().min(1).max(64).meta({ example: 'snd_01JH8ZQ6S9V3X4Y5Z6A7B8C9D0' }) });
const list = z.object({ items: z.array(senderView) });
const reencryptReport = z.object({
  key_id: z.string().meta({ description: 'The key every readable sender is now sealed with' }),
  reencrypted: z.number().int(),
  unreadable: z.array(z.object({ id: z.string(), key_id: z.string() })).meta({
    description: 'Senders sealed with a key SENDER_KEYS no longer lists (or altered): left as they are',
  }),
});

/**
 * /api/v1/admin/senders: a tenant's WhatsApp numbers and their credentials (issue 13). Every role
 * may list and read (scoped to its tenant; secrets are never shown, only `{set, last4}`); only
 * admins change them. An admin with a tenant claim sees and changes its tenant's senders only; one
 * without sees all. The deployment's sender (`env`, from the environment) is listed first and is
 * read-only.
 */
const route: FastifyPluginAsyncZod = async (app) => {
  const tags = ['senders'];
  const deps: SenderDeps = { store: app.store, box: SecretBox.fromKeys(app.config.SENDER_KEYS), config: app.config };
  // Every process keeps the senders in memory (SenderMirror): a change tells them to read again.
  // Read again here and announced to every other process before the answer leaves: the caller's
  // next request through this API already goes through the changed sender (other APIs follow
  // within one reload).
  app.addHook('onSend', async (request, reply) => {
    if (request.method !== 'GET' && reply.statusCode < 400) {
      await app.senderMirror.refresh().catch(() => undefined);
      await app.redis.publish(channels(app.config.QUEUE_PREFIX).senders, 'reload').catch(() => undefined);
    }
  });

  // A sender created or changed: every process drops its cached webhook secrets before this answer
  // goes out (services/webhook-senders.ts). Should Redis fail here, they expire within 30 s anyway.
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.method === 'GET' || reply.statusCode >= 400) return payload;
    await announceSenderChange(app.redis, app.config.QUEUE_PREFIX).catch((err: unknown) =>
      request.log.warn({ err }, 'sender change not announced; webhook secrets cached elsewhere expire within 30 s'),
    );
    return payload;
  });

  // Every answer shows the sender's circuit breaker as the workers keep it (null if Redis cannot
  // say) and when its webhooks last arrived.
  const withBreakers = async (views: SenderView[]): Promise<SenderView[]> => {
    const [breakers, webhooks] = await Promise.all([
      Promise.all(views.map((v) => app.breakerOf(v.id))),
      app.lastWebhook.of(views.map((v) => v.id)),
    ]);
    return views.map((v, i) => ({ ...v, breaker: breakers[i] ?? null, last_webhook_at: webhooks.get(v.id) ?? null }));
  };
  const withBreaker = async (view: SenderView): Promise<SenderView> => (await withBreakers([view]))[0] as SenderView;

  app.get(
    '/senders',
    {
      preHandler: app.authorize(anyRole),
      schema: {
        summary: 'List senders: the deployment sender, then the tenant\u2019s',
        description:
          'An admin without a tenant claim sees every tenant\u2019s and may filter with `?tenant=`; everyone else sees their own tenant\u2019s.',
        tags,
        querystring: z.object({ tenant: tenantField.optional() }).strict(),
        response: { 200: list, ...errorResponses },
      },
    },
    async (request) => ({ items: await withBreakers(await listSenders(deps, request.principal, request.query.tenant)) }),
  );

  app.get(
    '/senders/:id',
    {
      preHandler: app.authorize(anyRole),
      schema: { summary: 'One sender', tags, params: idParam, response: { 200: senderView, ...errorResponses } },
    },
    async (request) => withBreaker(await getSender(deps, request.principal, request.params.id)),
  );

  app.post(
    '/senders',
    {
      preHandler: app.authorize(adminOnly),
      schema: {
        summary: 'Create a sender',
        description:
          'Fields are checked per provider (a Meta sender without `identifiers.phone_number_id` is a 400 naming it). Credentials and webhook secrets are encrypted with the first SENDER_KEYS key before they are stored (503 when none is configured) and are never returned.',
        tags,
        body: senderCreate,
        response: { 201: senderView, ...errorResponses },
      },
    },
    async (request, reply) => {
      const view = await createSender(deps, request.principal, request.body);
      request.log.info({ sender: view.id, tenant: view.tenant, provider: view.provider }, 'sender created');
      return reply.code(201).send(await withBreaker(view));
    },
  );

  app.patch(
    '/senders/:id',
    {
      preHandler: app.authorize(adminOnly),
      schema: {
        summary: 'Change a sender',
        description:
          'Only what is given changes: a secret given replaces the stored one, an omitted one keeps its value, `null` removes an optional one. `default: true` makes it the tenant\u2019s default (the previous one stops being it). 409 when it changed meanwhile, or when disabling the tenant\u2019s default.',
        tags,
        params: idParam,
        body: senderPatch,
        response: { 200: senderView, ...errorResponses },
      },
    },
    async (request) => {
      const view = await updateSender(deps, request.principal, request.params.id, request.body);
      request.log.info({ sender: view.id, tenant: view.tenant, changed: Object.keys(request.body) }, 'sender changed');
      return withBreaker(view);
    },
  );

  for (const [action, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    app.post(
      `/senders/:id/${action}`,
      {
        preHandler: app.authorize(adminOnly),
        schema: {
          summary: disabled ? 'Disable a sender (it sends nothing; its late webhooks still verify)' : 'Enable a sender',
          description: disabled ? 'The same as PATCH `{"disabled": true}`: 409 for the tenant\u2019s default sender.' : undefined,
          tags,
          params: idParam,
          response: { 200: senderView, ...errorResponses },
        },
      },
      async (request) => {
        const view = await updateSender(deps, request.principal, request.params.id, { disabled });
        request.log.info({ sender: view.id, tenant: view.tenant }, disabled ? 'sender disabled' : 'sender enabled');
        return withBreaker(view);
      },
    );
  }

  app.post(
    '/senders/reencrypt',
    {
      preHandler: app.authorize(adminOnly),
      schema: {
        summary: 'Re-encrypt every sender\u2019s secrets with the first SENDER_KEYS key',
        description:
          'The middle step of a key rotation (docs/security.md): put the new key first in SENDER_KEYS on every process, call this (or `pnpm senders:reencrypt`), then drop the old key. Needs an admin token without a tenant claim. Safe to repeat.',
        tags,
        response: { 200: reencryptReport, ...errorResponses },
      },
    },
    async (request) => {
      const report = await reencryptAll(deps, request.principal);
      request.log.info(
        { key_id: report.key_id, reencrypted: report.reencrypted, unreadable: report.unreadable.length },
        'senders re-encrypted',
      );
      return report;
    },
  );
};

export default route;
