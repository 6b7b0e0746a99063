import { type Config, ConfigError, requireFor } from '../config/config.ts';
import { MetaCloudApi, MetaWebhooks } from './meta-cloud-api.ts';
import type { ProviderName, WebhookAdapter, WhatsAppProvider } from './provider.ts';

/** The adapter WHATSAPP_PROVIDER names, built from the environment's credentials. */
export function createProvider(config: Config): WhatsAppProvider {
  switch (config.WHATSAPP_PROVIDER) {
    case 'meta': {
      requireFor(config, 'meta');
      return new MetaCloudApi({
        baseUrl: config.META_API_BASE_URL,
        apiVersion: config.META_API_VERSION,
        phoneNumberId: config.META_PHONE_NUMBER_ID as string,
        accessToken: config.META_ACCESS_TOKEN as string,
        appSecret: config.META_APP_SECRET,
        timeoutMs: config.PROVIDER_TIMEOUT_MS,
      });
    }
    default:
      throw new ConfigError([`WHATSAPP_PROVIDER: ${config.WHATSAPP_PROVIDER} is not available yet (meta is)`]);
  }
}

/** Webhook verifiers for every provider whose secrets are configured. */
export function createWebhookAdapters(config: Config): Partial<Record<ProviderName, WebhookAdapter>> {
  return {
    ...(config.META_APP_SECRET ? { meta: new MetaWebhooks(config.META_APP_SECRET) } : {}),
  };
}
