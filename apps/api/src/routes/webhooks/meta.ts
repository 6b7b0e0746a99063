import { createWebhookAdapters, HeraldError, safeEqual } from '@herald/shared';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ingestWebhook, notConfigured } from '../../services/ingest-webhook.ts';
import { applyMetaTemplateEvents } from '../../services/template-events.ts';

/** Meta batches up to 1,000 status updates in one request. */
const webhookBodyLimit = 5 * 1024 * 1024;

const route: FastifyPluginAsyncZod = async (app) => {
  const adapter = createWebhookAdapters(app.config).meta;

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
      if (!adapter) throw notConfigured('meta', 'Meta', 'META_APP_SECRET');
      if (!Buffer.isBuffer(request.body)) throw new HeraldError('bad_request', 'expected a JSON body');
      const queued = await ingestWebhook(app, adapter, {
        rawBody: request.body,
        url: `${app.config.PUBLIC_BASE_URL}${request.url}`,
        headers: request.headers,
      });
      // Template status and quality updates (verified above, by ingestWebhook) are applied at once.
      const templates = await applyMetaTemplateEvents(app, request.body);
      return reply.send({ received: queued + templates });
    },
  );
};

export default route;
