import type { Config } from '@herald/shared';
import type { FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import auth from './plugins/auth.ts';
import configPlugin from './plugins/config.ts';
import dashboard from './plugins/dashboard.ts';
import errors from './plugins/errors.ts';
import metrics from './plugins/metrics.ts';
import preferences from './plugins/preferences.ts';
import providerTemplates from './plugins/provider-templates.ts';
import queues from './plugins/queues.ts';
import rateLimit from './plugins/rate-limit.ts';
import securityHeaders from './plugins/security-headers.ts';
import senderMirror from './plugins/senders.ts';
import store from './plugins/store.ts';
import swagger from './plugins/swagger.ts';
import templates from './plugins/templates.ts';
import senders from './routes/admin/senders.ts';
import admin from './routes/notifications/admin.ts';
import health from './routes/notifications/health.ts';
import history from './routes/notifications/history.ts';
import messages from './routes/notifications/messages.ts';
import sendBulk from './routes/notifications/send-bulk.ts';
import sendMessage from './routes/notifications/send-message.ts';
import templateSync from './routes/notifications/template-sync.ts';
import templateRoutes from './routes/notifications/templates.ts';
import sending from './routes/operations/sending.ts';
import erase from './routes/privacy/erase.ts';
import metaWebhook from './routes/webhooks/meta.ts';
import myOperatorWebhook from './routes/webhooks/myoperator.ts';
import twilioWebhook from './routes/webhooks/twilio.ts';

export interface AppOptions {
  config: Config;
}

/**
 * The whole API as a plugin that never listens: server.ts wraps it with process concerns, tests
 * build it with the same options (and listen on port 0 where a provider must call back).
 */
export default async function app(fastify: FastifyInstance, opts: AppOptions): Promise<void> {
  fastify.setValidatorCompiler(validatorCompiler);
  fastify.setSerializerCompiler(serializerCompiler);
  const f = fastify.withTypeProvider<ZodTypeProvider>();

  await f.register(configPlugin, { config: opts.config });
  await f.register(errors);
  await f.register(securityHeaders);
  await f.register(swagger);
  await f.register(queues);
  await f.register(store);
  await f.register(metrics);
  await f.register(templates);
  await f.register(preferences);
  await f.register(providerTemplates);
  await f.register(senderMirror);
  await f.register(auth);
  await f.register(rateLimit);

  await f.register(
    async (api) => {
      await api.register(sendMessage);
      await api.register(messages);
      await api.register(history);
      await api.register(health);
      await api.register(sendBulk);
      await api.register(admin);
      await api.register(templateRoutes);
      await api.register(templateSync);
      await api.register(sending);
    },
    { prefix: '/api/notifications' },
  );
  await f.register(metaWebhook, { prefix: '/api/v1/whatsapp' });
  await f.register(twilioWebhook, { prefix: '/api/v1/twilio' });
  await f.register(myOperatorWebhook, { prefix: '/api/v1/myoperator' });
  await f.register(dashboard);
  await f.register(erase, { prefix: '/api/v1/admin' });
  await f.register(senders, { prefix: '/api/v1/admin' });
}
