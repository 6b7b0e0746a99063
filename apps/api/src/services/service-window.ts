import {
  type Config,
  defaultSenderId,
  describeClosedWindow,
  HeraldError,
  type ProviderTemplateMirror,
  type RedisConnection,
  ServiceWindows,
  sendableAsProviderTemplate,
  type TemplateDocument,
  windowEnforced,
} from '@herald/shared';

export interface WindowCheck {
  config: Pick<Config, 'WHATSAPP_PROVIDER' | 'SERVICE_WINDOW_PROVIDERS' | 'QUEUE_PREFIX'>;
  redis: RedisConnection;
  providerTemplates: Pick<ProviderTemplateMirror, 'get'>;
}

/**
 * Refuses, at accept, a message that can only go as free-form text (no provider template it can
 * go as) to a recipient whose 24-hour window is closed when it is due: 409
 * `outside_service_window` naming when the window closed, or that the recipient never wrote,
 * instead of the provider's refusal after a round trip (Meta 131047, Twilio 63016). A scheduled
 * message is checked against its send_at: a window that closes before then refuses it too. Only
 * where the provider enforces the window (windowEnforced). Reads one Redis key, never MongoDB.
 */
export async function assertServiceWindow(
  deps: WindowCheck,
  input: { template: Pick<TemplateDocument, 'type' | 'providers'>; phone: string; now: Date; dueAt: Date; sender?: string | undefined },
): Promise<void> {
  const provider = deps.config.WHATSAPP_PROVIDER;
  if (!windowEnforced(deps.config, provider)) return;
  if (sendableAsProviderTemplate(provider, input.template, deps.providerTemplates)) return;
  const windows = new ServiceWindows(deps.redis, deps.config.QUEUE_PREFIX);
  const state = await windows.state(input.sender ?? defaultSenderId, input.phone, input.dueAt);
  if (state.open) return;
  throw new HeraldError(
    'outside_service_window',
    `template ${input.template.type} has no ${provider} template mapping, so it can only go as free-form text, and ${describeClosedWindow(state, input.now)}; give the template a ${provider} mapping to reach recipients outside the window`,
  );
}
