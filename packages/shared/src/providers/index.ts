import { type Config, requireFor } from '../config/config.ts';
import { MetaCloudApi } from './meta-cloud-api.ts';
import { MetaWebhooks } from './meta-webhooks.ts';
import { MyOperatorApi, MyOperatorWebhooks } from './myoperator.ts';
import type { ProviderName, WebhookAdapter, WhatsAppProvider } from './provider.ts';
import { TwilioMessaging, TwilioWebhooks } from './twilio.ts';

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
    case 'twilio': {
      requireFor(config, 'twilio');
      return new TwilioMessaging({
        baseUrl: config.TWILIO_API_BASE_URL,
        accountSid: config.TWILIO_ACCOUNT_SID as string,
        authToken: config.TWILIO_AUTH_TOKEN as string,
        from: config.TWILIO_FROM as string,
        publicBaseUrl: config.PUBLIC_BASE_URL,
        timeoutMs: config.PROVIDER_TIMEOUT_MS,
      });
    }
    case 'myoperator': {
      requireFor(config, 'myoperator');
      return new MyOperatorApi(
        {
          baseUrl: config.MYOPERATOR_API_BASE_URL,
          sendPath: config.MYOPERATOR_SEND_PATH,
          apiKey: config.MYOPERATOR_API_KEY as string,
          companyId: config.MYOPERATOR_COMPANY_ID as string,
          phoneNumberId: config.MYOPERATOR_PHONE_NUMBER_ID as string,
          timeoutMs: config.PROVIDER_TIMEOUT_MS,
        },
        new MyOperatorWebhooks(config.MYOPERATOR_WEBHOOK_SECRET, config.MYOPERATOR_WEBHOOK_HEADER),
      );
    }
  }
}

/**
 * Webhook verifiers for every provider whose secrets are configured: the API accepts each
 * provider's webhooks whichever one sends, so a switch of WHATSAPP_PROVIDER does not lose the
 * late statuses of messages the previous one carried.
 */
export function createWebhookAdapters(config: Config): Partial<Record<ProviderName, WebhookAdapter>> {
  return {
    ...(config.META_APP_SECRET ? { meta: new MetaWebhooks(config.META_APP_SECRET) } : {}),
    ...(config.TWILIO_AUTH_TOKEN ? { twilio: new TwilioWebhooks(config.TWILIO_AUTH_TOKEN) } : {}),
    ...(config.MYOPERATOR_WEBHOOK_SECRET
      ? { myoperator: new MyOperatorWebhooks(config.MYOPERATOR_WEBHOOK_SECRET, config.MYOPERATOR_WEBHOOK_HEADER) }
      : {}),
  };
}
