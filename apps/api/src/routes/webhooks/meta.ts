import { ENV_SENDER_ID, HeraldError, SecretBox, safeEqual } from '@herald/shared';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ingestRouted, notConfigured } from '../../services/ingest-webhook.ts';
import { routeMeta } from '../../services/route-webhook.ts';
import { applyMetaTemplateEvents } from '../../services/template-events.ts';
import { WebhookSenders } from '../../services/webhook-senders.ts';

/** Meta batches up to 1,000 status updates in one request. */
const webhookBodyLimit = 5 * 1024 * 1024;

const route: FastifyPluginAsyncZod = async (app) => {
  // Each request goes to the sender whose number it names, verified with that sender's app secret.
  const senders = new WebhookSenders({
    store: app.store,
    redis: app.redis,
    box: SecretBox.fromKeys(app.config.SENDER_KEYS),
    config: app.config,
  });

  // Signatures are over the exact bytes received, so this route keeps the body raw.
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: webhookBodyLimit }, (_req, body, done) => done(null, body));

  app.get(
    '/webhook',
    {
      schema: {
        summary: "Meta's verification handshake",
        tags: ['webhooks'],
        security: [],
        querystring: z
          .object({
            'hub.mode': z.string().optional(),
            'hub.verify_token': z.string().optional(),
            'hub.challenge': z.string().max(512).optional(),
          })
          .loose(),
      },
    },
    async (request, reply) => {
      const q = request.query;
      const expected = app.config.META_VERIFY_TOKEN;
      const token = q['hub.verify_token'];
      if (q['hub.mode'] === 'subscribe' && expected && token && safeEqual(token, expected)) {
        return reply.type('text/plain').send(q['hub.challenge'] ?? '');
      }
      throw new HeraldError('forbidden', 'verify token does not match');
    },
  );

  app.post(
    '/webhook',
    {
      bodyLimit: webhookBodyLimit,
      schema: {
        summary: 'Meta status updates and inbound messages (X-Hub-Signature-256 checked)',
        tags: ['webhooks'],
        security: [],
      },
    },
    async (request, reply) => {
      if (!Buffer.isBuffer(request.body)) {
        if (!senders.env('meta')) throw notConfigured('meta', 'Meta', 'META_APP_SECRET');
        throw new HeraldError('bad_request', 'expected a JSON body');
      }
      const webhook = { rawBody: request.body, url: `${app.config.PUBLIC_BASE_URL}${request.url}`, headers: request.headers };
      const route = await routeMeta(senders, webhook);
      if (route.kind === 'not_configured') throw notConfigured('meta', 'Meta', 'META_APP_SECRET');
      const queued = await ingestRouted(app, 'meta', webhook, route);
      // Template status and quality updates (verified above, by ingestRouted) are applied at once:
      // they are the deployment's account's, so only from a request its own app secret signed.
      const deployment = route.kind === 'routed' && route.parts.some((p) => p.sender.id === ENV_SENDER_ID);
      const templates = deployment ? await applyMetaTemplateEvents(app, request.body) : 0;
      return reply.send({ received: queued + templates });
    },
  );
};

export default route;
