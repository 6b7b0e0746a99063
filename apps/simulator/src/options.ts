import type { FastifyServerOptions } from 'fastify';

/** The three status webhooks the simulator posts after accepting a message. */
export type DeliveryStatus = 'sent' | 'delivered' | 'read';

/** Milliseconds after acceptance at which each status webhook is posted. */
export type StatusDelaysMs = Record<DeliveryStatus, number>;

export interface MetaOptions {
  /** Bearer token every send must carry. Default `sim-meta-access-token`. */
  accessToken?: string;
  /** App secret that signs webhooks (X-Hub-Signature-256). Default `sim-meta-app-secret`. */
  appSecret?: string;
  /** When set, sends to any other phone number id fail with Meta's unknown-object error. Default: any id is accepted. */
  phoneNumberId?: string;
  /** Path under webhookBaseUrl that receives Meta webhooks. Default `/api/v1/whatsapp/webhook`. */
  webhookPath?: string;
  /** `entry[].id` in webhooks (the WhatsApp Business Account id). Default `100000000000001`. */
  wabaId?: string;
  /** `metadata.display_phone_number` in webhooks (digits). Default `15550000001`. */
  displayPhoneNumber?: string;
}

export interface TwilioOptions {
  /** Account SID in the send path and the Basic auth user. Default `AC` + 32 zeros. */
  accountSid?: string;
  /** Basic auth password; also keys X-Twilio-Signature. Default `sim-twilio-auth-token`. */
  authToken?: string;
  /** Path under webhookBaseUrl that receives incoming messages (status callbacks go to each send's StatusCallback). Default `/api/v1/twilio/status`. */
  webhookPath?: string;
}

export interface MyOperatorOptions {
  /** Bearer token every send must carry. Default `sim-myoperator-api-key`. */
  apiKey?: string;
  /** X-MYOP-COMPANY-ID every send must carry. Default `sim-company`. */
  companyId?: string;
  /** Shared secret sent in `webhookHeader` on every webhook. Default `sim-myoperator-webhook-secret`. */
  webhookSecret?: string;
  /** Header carrying the secret. Default `x-myoperator-secret`. */
  webhookHeader?: string;
  /** Send endpoint path. Default `/chat/messages`. */
  sendPath?: string;
  /** Path under webhookBaseUrl that receives MyOperator webhooks. Default `/api/v1/myoperator/webhook`. */
  webhookPath?: string;
}

export interface SimulatorOptions {
  /** Meta Cloud API credentials and webhook identity; every field has a default. */
  meta?: MetaOptions;
  /** Twilio credentials; every field has a default. */
  twilio?: TwilioOptions;
  /** MyOperator credentials and wire details; every field has a default. */
  myoperator?: MyOperatorOptions;
  /** Herald's base URL; webhooks go to `${webhookBaseUrl}${meta.webhookPath}`. Default `http://127.0.0.1:3000`. */
  webhookBaseUrl?: string;
  /** Delay after acceptance of each status webhook, in ms. Default `{sent: 20, delivered: 40, read: 60}`. */
  webhookDelaysMs?: StatusDelaysMs;
  /** Timeout of one webhook POST, in ms. Default 5000. */
  webhookTimeoutMs?: number;
  /** Attempts per webhook, the first included, before it is recorded as failed. Default 4. */
  webhookMaxAttempts?: number;
  /** Backoff before the first webhook retry, in ms; doubles on each further retry. Default 200. */
  webhookRetryBaseMs?: number;
  /** Most outgoing webhook connections open at once; further posts queue. Default 256. */
  webhookMaxSockets?: number;
  /** Most recorded messages and most recorded send requests kept; the oldest are forgotten first. Default 100000. */
  maxRecords?: number;
  /** Fastify logger: false, true, or pino options. Default false (the hot path never logs per request). */
  logger?: FastifyServerOptions['logger'];
  /** Source of randomness in [0, 1) for random faults; tests may pass a seeded one. Default Math.random. */
  random?: () => number;
  /**
   * Refuse free-form messages (not templates) to a number that has not sent an inbound message
   * through `/_sim/inbound` in the last 24 h, as Meta (131047) and Twilio (63016) do. Default false.
   */
  serviceWindow?: boolean;
}

export interface ResolvedOptions {
  meta: Required<Omit<MetaOptions, 'phoneNumberId'>> & { phoneNumberId: string | undefined };
  twilio: Required<TwilioOptions>;
  myoperator: Required<MyOperatorOptions>;
  webhookBaseUrl: string;
  webhookDelaysMs: StatusDelaysMs;
  webhookTimeoutMs: number;
  webhookMaxAttempts: number;
  webhookRetryBaseMs: number;
  webhookMaxSockets: number;
  maxRecords: number;
  logger: FastifyServerOptions['logger'];
  random: () => number;
  serviceWindow: boolean;
}

export const DEFAULT_META_ACCESS_TOKEN = 'sim-meta-access-token';
export const DEFAULT_META_APP_SECRET = 'sim-meta-app-secret';
export const DEFAULT_WEBHOOK_DELAYS_MS: StatusDelaysMs = { sent: 20, delivered: 40, read: 60 };

export function resolveOptions(opts: SimulatorOptions): ResolvedOptions {
  const resolved: ResolvedOptions = {
    webhookBaseUrl: 'http://127.0.0.1:3000',
    webhookTimeoutMs: 5_000,
    webhookMaxAttempts: 4,
    webhookRetryBaseMs: 200,
    webhookMaxSockets: 256,
    maxRecords: 100_000,
    logger: false,
    random: Math.random,
    serviceWindow: false,
    ...definedOnly(opts),
    webhookDelaysMs: { ...DEFAULT_WEBHOOK_DELAYS_MS, ...opts.webhookDelaysMs },
    meta: {
      accessToken: DEFAULT_META_ACCESS_TOKEN,
      appSecret: DEFAULT_META_APP_SECRET,
      webhookPath: '/api/v1/whatsapp/webhook',
      wabaId: '100000000000001',
      displayPhoneNumber: '15550000001',
      ...definedOnly(opts.meta ?? {}),
      phoneNumberId: opts.meta?.phoneNumberId,
    },
    twilio: {
      accountSid: `AC${'0'.repeat(32)}`,
      authToken: 'sim-twilio-auth-token',
      webhookPath: '/api/v1/twilio/status',
      ...definedOnly(opts.twilio ?? {}),
    },
    myoperator: {
      apiKey: 'sim-myoperator-api-key',
      companyId: 'sim-company',
      webhookSecret: 'sim-myoperator-webhook-secret',
      webhookHeader: 'x-myoperator-secret',
      sendPath: '/chat/messages',
      webhookPath: '/api/v1/myoperator/webhook',
      ...definedOnly(opts.myoperator ?? {}),
    },
  };
  resolved.webhookBaseUrl = resolved.webhookBaseUrl.replace(/\/+$/, '');

  if (!URL.canParse(resolved.webhookBaseUrl)) {
    throw new Error(`simulator option webhookBaseUrl is not a URL: ${resolved.webhookBaseUrl}`);
  }
  if (!resolved.meta.accessToken) throw new Error('simulator option meta.accessToken must not be empty');
  if (!resolved.meta.appSecret) throw new Error('simulator option meta.appSecret must not be empty');
  for (const [name, value] of Object.entries({
    ...prefixed('webhookDelaysMs.', resolved.webhookDelaysMs),
    webhookTimeoutMs: resolved.webhookTimeoutMs,
    webhookRetryBaseMs: resolved.webhookRetryBaseMs,
  })) {
    if (!Number.isFinite(value) || value < 0) throw new Error(`simulator option ${name} must be a number ≥ 0`);
  }
  for (const [name, value] of Object.entries({
    webhookMaxAttempts: resolved.webhookMaxAttempts,
    webhookMaxSockets: resolved.webhookMaxSockets,
    maxRecords: resolved.maxRecords,
  })) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`simulator option ${name} must be an integer ≥ 1`);
  }
  return resolved;
}

// Spreading `{key: undefined}` over a default would erase the default.
function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function prefixed(prefix: string, values: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [prefix + k, v]));
}
