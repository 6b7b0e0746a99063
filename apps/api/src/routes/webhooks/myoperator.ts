import { createWebhookAdapters, HeraldError } from '@herald/shared';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ingestWebhook, notConfigured } from '../../services/ingest-webhook.ts';

const route: FastifyPluginAsyncZod = async (app) => {
  const adapter = createWebhookAdapters(app.config).myoperator;

  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: 1024 * 1024 }, (_req, body, done) => done(null, body));

  app.post(
    '/webhook',
    {
      schema: {
        summary: 'MyOperator delivery events and incoming messages (shared-secret header checked; deduplicated on event_id)',
        tags: ['webhooks'],
        security: [],
      },
    },
    async (request, reply) => {
      if (!adapter) throw notConfigured('myoperator', 'MyOperator', 'MYOPERATOR_WEBHOOK_SECRET');
      if (!Buffer.isBuffer(request.body)) throw new HeraldError('bad_request', 'expected a JSON body');
      const queued = await ingestWebhook(app, adapter, {
        rawBody: request.body,
        url: `${app.config.PUBLIC_BASE_URL.replace(/\/+$/, '')}${request.url}`,
        headers: request.headers,
      });
      return reply.send({ received: queued });
    },
  );
};

export default route;
