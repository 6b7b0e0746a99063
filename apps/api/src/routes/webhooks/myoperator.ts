import { HeraldError, SecretBox } from '@herald/shared';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ingestRouted, notConfigured } from '../../services/ingest-webhook.ts';
import { routeMyOperator } from '../../services/route-webhook.ts';
import { WebhookSenders } from '../../services/webhook-senders.ts';

const route: FastifyPluginAsyncZod = async (app) => {
  // Each event goes to the sender of its company (and phone number id), checked against that sender's webhook secret.
  const senders = new WebhookSenders({
    store: app.store,
    redis: app.redis,
    box: SecretBox.fromKeys(app.config.SENDER_KEYS),
    config: app.config,
  });

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
      if (!Buffer.isBuffer(request.body)) {
        if (!senders.env('myoperator')) throw notConfigured('myoperator', 'MyOperator', 'MYOPERATOR_WEBHOOK_SECRET');
        throw new HeraldError('bad_request', 'expected a JSON body');
      }
      const webhook = {
        rawBody: request.body,
        url: `${app.config.PUBLIC_BASE_URL.replace(/\/+$/, '')}${request.url}`,
        headers: request.headers,
      };
      const route = await routeMyOperator(senders, webhook);
      if (route.kind === 'not_configured') throw notConfigured('myoperator', 'MyOperator', 'MYOPERATOR_WEBHOOK_SECRET');
      const queued = await ingestRouted(app, 'myoperator', webhook, route);
      return reply.send({ received: queued });
    },
  );
};

export default route;
