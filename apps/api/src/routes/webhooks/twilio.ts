import { HeraldError, parseForm, SecretBox } from '@herald/shared';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ingestRouted, notConfigured } from '../../services/ingest-webhook.ts';
import { routeTwilio } from '../../services/route-webhook.ts';
import { WebhookSenders } from '../../services/webhook-senders.ts';

const route: FastifyPluginAsyncZod = async (app) => {
  // Each request goes to the sender of its AccountSid (and number), verified with that sender's auth token.
  const senders = new WebhookSenders({
    store: app.store,
    redis: app.redis,
    box: SecretBox.fromKeys(app.config.SENDER_KEYS),
    config: app.config,
  });

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
      if (!Buffer.isBuffer(request.body)) {
        if (!senders.env('twilio')) throw notConfigured('twilio', 'Twilio', 'TWILIO_AUTH_TOKEN');
        throw new HeraldError('bad_request', 'expected a form-encoded body');
      }
      const webhook = {
        rawBody: request.body,
        // Twilio signs the URL it called; behind a proxy the Host header cannot be trusted, so the
        // configured public base URL stands in for it (read per request: tests set it after listen).
        url: `${app.config.PUBLIC_BASE_URL.replace(/\/+$/, '')}${request.url}`,
        headers: request.headers,
        form: parseForm(request.body),
      };
      const route = await routeTwilio(senders, webhook);
      if (route.kind === 'not_configured') throw notConfigured('twilio', 'Twilio', 'TWILIO_AUTH_TOKEN');
      const queued = await ingestRouted(app, 'twilio', webhook, route);
      return reply.send({ received: queued });
    },
  );
};

export default route;
