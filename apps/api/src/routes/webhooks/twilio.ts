import { createWebhookAdapters, HeraldError, parseForm } from '@herald/shared';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ingestWebhook, notConfigured } from '../../services/ingest-webhook.ts';

const route: FastifyPluginAsyncZod = async (app) => {
  const adapter = createWebhookAdapters(app.config).twilio;

  // The signature covers the form parameters; the body is kept raw and parsed by the adapter.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer', bodyLimit: 64 * 1024 }, (_req, body, done) =>
    done(null, body),
  );

  app.post(
    '/status',
    {
      schema: {
        summary: 'Twilio status callbacks and incoming WhatsApp messages (X-Twilio-Signature checked against PUBLIC_BASE_URL)',
        tags: ['webhooks'],
        security: [],
      },
    },
    async (request, reply) => {
      if (!adapter) throw notConfigured('twilio', 'Twilio', 'TWILIO_AUTH_TOKEN');
      if (!Buffer.isBuffer(request.body)) throw new HeraldError('bad_request', 'expected a form-encoded body');
      const queued = await ingestWebhook(app, adapter, {
        rawBody: request.body,
        // Twilio signs the URL it called; behind a proxy the Host header cannot be trusted, so the
        // configured public base URL stands in for it (read per request: tests set it after listen).
        url: `${app.config.PUBLIC_BASE_URL.replace(/\/+$/, '')}${request.url}`,
        headers: request.headers,
        form: parseForm(request.body),
      });
      return reply.send({ received: queued });
    },
  );
};

export default route;
