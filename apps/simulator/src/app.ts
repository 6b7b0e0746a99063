import Fastify, { type FastifyInstance, LogController } from 'fastify';
import { createFaultsSchema, FaultEngine } from './core/faults.ts';
import { HeldReplies } from './core/held-replies.ts';
import { SimSenders } from './core/senders.ts';
import { ServiceWindowBook } from './core/service-window.ts';
import type { SimulatorState } from './core/state.ts';
import { Store } from './core/store.ts';
import { WebhookDispatcher } from './core/webhook-dispatcher.ts';
import { resolveOptions, type SimulatorOptions } from './options.ts';
import { createMetaWebhooks, META_PROVIDER, metaCloudApi } from './providers/meta.ts';
import { META_ERROR_CODES } from './providers/meta-errors.ts';
import { MetaTemplates } from './providers/meta-template-registry.ts';
import { metaTemplatesApi } from './providers/meta-templates.ts';
import { createMyOperatorWebhooks, MYOPERATOR_PROVIDER, myOperatorApi } from './providers/myoperator.ts';
import { MYOPERATOR_ERRORS } from './providers/myoperator-errors.ts';
import { createTwilioWebhooks, TWILIO_PROVIDER, twilioMessagesApi } from './providers/twilio.ts';
import { TWILIO_ERRORS } from './providers/twilio-errors.ts';
import { controlRoutes } from './routes/control.ts';

/**
 * The whole simulator as a Fastify instance that never listens: server.ts and startSimulator()
 * listen on it, tests may also drive it with inject().
 */
export async function buildSimulator(opts: SimulatorOptions = {}): Promise<FastifyInstance> {
  const options = resolveOptions(opts);
  const app = Fastify({
    logger: options.logger ?? false,
    // Benchmarks push thousands of sends a second through here; a log line each would dominate.
    logController: new LogController({ disableRequestLogging: true }),
  });

  const store = new Store(options.maxRecords);
  const state: SimulatorState = {
    options,
    store,
    // Fault codes are validated against every provider's table; a provider answers a code that is
    // not its own as its generic server error.
    faults: new FaultEngine(
      createFaultsSchema(new Set([...META_ERROR_CODES, ...TWILIO_ERRORS.keys(), ...MYOPERATOR_ERRORS.keys()])),
      options.random,
    ),
    dispatcher: new WebhookDispatcher(
      store,
      {
        timeoutMs: options.webhookTimeoutMs,
        maxAttempts: options.webhookMaxAttempts,
        retryBaseMs: options.webhookRetryBaseMs,
        maxSockets: options.webhookMaxSockets,
      },
      app.log,
    ),
    held: new HeldReplies(),
    metaTemplates: new MetaTemplates(),
    serviceWindow: new ServiceWindowBook(options.serviceWindow),
    senders: new SimSenders(options),
  };

  // Held answers (latency, timeout faults) are released before the server waits for in-flight
  // requests, and pending webhooks are dropped, so close() is prompt.
  app.addHook('preClose', async () => {
    state.held.releaseAll();
    state.dispatcher.cancelAll();
  });
  app.addHook('onClose', async () => state.dispatcher.close());

  await app.register(metaCloudApi, { state });
  await app.register(metaTemplatesApi, { state, templates: state.metaTemplates });
  await app.register(twilioMessagesApi, { state });
  await app.register(myOperatorApi, { state });
  await app.register(controlRoutes, {
    state,
    providers: {
      [META_PROVIDER]: createMetaWebhooks(options, state.senders),
      [TWILIO_PROVIDER]: createTwilioWebhooks(options, state.senders),
      [MYOPERATOR_PROVIDER]: createMyOperatorWebhooks(options, state.senders),
    },
  });
  return app;
}
