import { type Config, requireFor } from '../config/config.ts';
import { type SealedSecret, type SecretBox, SecretOpenError } from '../crypto/secret-box.ts';
import { MetaCloudApi } from '../providers/meta-cloud-api.ts';
import { MyOperatorApi, MyOperatorWebhooks } from '../providers/myoperator.ts';
import type { WhatsAppProvider } from '../providers/provider.ts';
import { TwilioMessaging } from '../providers/twilio.ts';
import { ENV_SENDER_ID, type SenderDocument, senderAad } from './senders.ts';

/** A sender with its secrets opened: what sending through it and verifying its webhooks need. */
export type ResolvedSender = {
  id: string;
  /** null: the deployment's sender (from the environment). */
  tenant: string | null;
  label: string;
  mps: number;
  /** A disabled sender sends nothing, but its late webhooks still verify (its messages' statuses). */
  disabled: boolean;
} & (
  | {
      provider: 'meta';
      phone_number_id: string;
      waba_id: string | null;
      access_token: string;
      app_secret: string | undefined;
      verify_token: string | undefined;
    }
  | { provider: 'twilio'; account_sid: string; from: string; auth_token: string }
  | { provider: 'myoperator'; company_id: string; phone_number_id: string; api_key: string; webhook_secret: string | undefined }
);

/** How senders are read: the store's `senders` fits (packages/shared cannot import the store). */
export interface SenderLookup {
  get(id: string): Promise<SenderDocument | null>;
}

/** The deployment's sender: WHATSAPP_PROVIDER and its variables. Throws ConfigError naming what is missing. */
export function envSender(config: Config): ResolvedSender {
  const base = { id: ENV_SENDER_ID, tenant: null, label: 'Deployment sender (environment)', mps: config.PROVIDER_MPS, disabled: false };
  switch (config.WHATSAPP_PROVIDER) {
    case 'meta':
      requireFor(config, 'meta');
      return {
        ...base,
        provider: 'meta',
        phone_number_id: config.META_PHONE_NUMBER_ID as string,
        waba_id: null,
        access_token: config.META_ACCESS_TOKEN as string,
        app_secret: config.META_APP_SECRET,
        verify_token: config.META_VERIFY_TOKEN,
      };
    case 'twilio':
      requireFor(config, 'twilio');
      return {
        ...base,
        provider: 'twilio',
        account_sid: config.TWILIO_ACCOUNT_SID as string,
        from: config.TWILIO_FROM as string,
        auth_token: config.TWILIO_AUTH_TOKEN as string,
      };
    case 'myoperator':
      requireFor(config, 'myoperator');
      return {
        ...base,
        provider: 'myoperator',
        company_id: config.MYOPERATOR_COMPANY_ID as string,
        phone_number_id: config.MYOPERATOR_PHONE_NUMBER_ID as string,
        api_key: config.MYOPERATOR_API_KEY as string,
        webhook_secret: config.MYOPERATOR_WEBHOOK_SECRET,
      };
  }
}

/** A stored sender with its secrets opened (SecretOpenError when they cannot be). */
export function openSender(doc: SenderDocument, box: SecretBox): ResolvedSender {
  const secrets = box.openJson(doc.secrets, senderAad(doc));
  const base = { id: doc._id, tenant: doc.tenant, label: doc.label, mps: doc.mps, disabled: doc.disabled };
  const id = doc.identifiers;
  switch (doc.provider) {
    case 'meta':
      return {
        ...base,
        provider: 'meta',
        phone_number_id: id.phone_number_id as string,
        waba_id: id.waba_id ?? null,
        access_token: secrets.access_token as string,
        app_secret: secrets.app_secret,
        verify_token: secrets.verify_token,
      };
    case 'twilio':
      return {
        ...base,
        provider: 'twilio',
        account_sid: id.account_sid as string,
        from: id.from as string,
        auth_token: secrets.auth_token as string,
      };
    case 'myoperator':
      return {
        ...base,
        provider: 'myoperator',
        company_id: id.company_id as string,
        phone_number_id: id.phone_number_id as string,
        api_key: secrets.api_key as string,
        webhook_secret: secrets.webhook_secret,
      };
  }
}

/**
 * A sender id to its opened configuration: `env` is the environment's sender, anything else is
 * read from the store and decrypted. null: no such sender. Without SENDER_KEYS a stored sender
 * cannot be opened (SecretOpenError).
 */
export async function resolveSender(
  id: string,
  deps: { senders: SenderLookup; box: SecretBox | undefined; config: Config },
): Promise<ResolvedSender | null> {
  if (id === ENV_SENDER_ID) return envSender(deps.config);
  const doc = await deps.senders.get(id);
  if (!doc) return null;
  if (!deps.box) throw new SecretOpenError(`sender ${id} is stored encrypted, and SENDER_KEYS is not set in this process`);
  return openSender(doc, deps.box);
}

/** The provider adapter that sends as `sender` (base URLs and timeouts from the configuration). */
export function providerFor(sender: ResolvedSender, config: Config): WhatsAppProvider {
  switch (sender.provider) {
    case 'meta':
      return new MetaCloudApi({
        baseUrl: config.META_API_BASE_URL,
        apiVersion: config.META_API_VERSION,
        phoneNumberId: sender.phone_number_id,
        accessToken: sender.access_token,
        appSecret: sender.app_secret,
        timeoutMs: config.PROVIDER_TIMEOUT_MS,
      });
    case 'twilio':
      return new TwilioMessaging({
        baseUrl: config.TWILIO_API_BASE_URL,
        accountSid: sender.account_sid,
        authToken: sender.auth_token,
        from: sender.from,
        publicBaseUrl: config.PUBLIC_BASE_URL,
        timeoutMs: config.PROVIDER_TIMEOUT_MS,
      });
    case 'myoperator':
      return new MyOperatorApi(
        {
          baseUrl: config.MYOPERATOR_API_BASE_URL,
          sendPath: config.MYOPERATOR_SEND_PATH,
          apiKey: sender.api_key,
          companyId: sender.company_id,
          phoneNumberId: sender.phone_number_id,
          timeoutMs: config.PROVIDER_TIMEOUT_MS,
        },
        new MyOperatorWebhooks(sender.webhook_secret, config.MYOPERATOR_WEBHOOK_HEADER),
      );
  }
}

/** What re-encryption needs of the store (the store's `senders` fits). */
export interface SenderSecretsRepository {
  /** Senders whose secrets are sealed with another key than `kid`. */
  notSealedWith(kid: string): Promise<SenderDocument[]>;
  /** Replaces the sealed secrets if the sender is still at `version`; false if it changed meanwhile. */
  replaceSecrets(id: string, version: number, secrets: SealedSecret): Promise<boolean>;
}

export interface ReencryptReport {
  /** The key everything is now sealed with. */
  key_id: string;
  reencrypted: number;
  /** Senders whose key is not configured (or whose ciphertext does not check): left as they are. */
  unreadable: { id: string; key_id: string }[];
}

/**
 * Seals every sender's secrets with the current (first) key. Safe to run while the API and workers
 * run (each write is compare-and-set; a sender changed meanwhile is taken again) and to run twice.
 */
export async function reencryptSenders(repo: SenderSecretsRepository, box: SecretBox): Promise<ReencryptReport> {
  const report: ReencryptReport = { key_id: box.keyId, reencrypted: 0, unreadable: [] };
  const skipped = new Set<string>();
  for (let pass = 0; pass < 5; pass++) {
    const pending = (await repo.notSealedWith(box.keyId)).filter((d) => !skipped.has(d._id));
    if (pending.length === 0) break;
    for (const doc of pending) {
      let plain: string;
      try {
        plain = box.open(doc.secrets, senderAad(doc));
      } catch {
        skipped.add(doc._id);
        report.unreadable.push({ id: doc._id, key_id: doc.secrets.kid });
        continue;
      }
      if (await repo.replaceSecrets(doc._id, doc.version, box.seal(plain, senderAad(doc)))) report.reencrypted++;
    }
  }
  return report;
}
