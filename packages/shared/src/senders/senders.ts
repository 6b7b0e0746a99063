import { monotonicFactory } from 'ulid';
import { z } from 'zod';
import type { SealedSecret } from '../crypto/secret-box.ts';

const ulid = monotonicFactory();

/** Sender ids: `snd_` + a ULID. */
export const newSenderId = (): string => `snd_${ulid()}`;
export const senderIdPattern = /^snd_[0-9A-HJKMNP-TV-Z]{26}$/;

/** The sender built from the environment's provider settings (read-only, the deployment's default). */
export const ENV_SENDER_ID = 'env';

export const senderProvider = z.enum(['meta', 'twilio', 'myoperator']);
export type SenderProvider = z.infer<typeof senderProvider>;

/** Meta's numbers per second per business number: 80 by default, up to 1,000 on a higher tier. */
export const DEFAULT_SENDER_MPS = 80;

const noNul = (s: string) => !s.includes('\u0000');
const digitsId = (what: string) => z.string().regex(/^\d{5,24}$/, `digits only (${what})`);
const plainId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits and _ . : - only');
/** A credential or webhook secret: 8+ visible characters (its last four are shown, so it must be longer). */
const secretValue = z.string().min(8, 'at least 8 characters').max(4096).regex(/^\S+$/, 'no spaces or control characters');

export const tenantField = z.string().min(1).max(64).refine(noNul, 'no NUL').meta({ example: 'bakery' });
const label = z.string().trim().min(1).max(100).refine(noNul, 'no NUL').meta({ example: 'Bakery main number' });
const mps = z
  .number()
  .int()
  .min(1)
  .max(1000)
  .meta({ description: 'Messages per second this number may send (Meta tier: 80 by default, up to 1,000)' });

/**
 * Per provider: the number's identifiers (plain, searchable: webhooks are routed by them), its
 * credentials (what sending needs) and its webhook secrets (what verifying its webhooks needs).
 * Credentials and webhook secrets are encrypted at rest and never shown. Twilio signs webhooks
 * with the auth token, so it has no separate webhook secret.
 */
export const senderShapes = {
  meta: {
    identifiers: z
      .object({ phone_number_id: digitsId("Meta's phone number id"), waba_id: digitsId('the WhatsApp Business Account id') })
      .strict(),
    credentials: z.object({ access_token: secretValue }).strict(),
    webhook_secrets: z.object({ app_secret: secretValue, verify_token: secretValue.optional() }).strict(),
  },
  twilio: {
    identifiers: z
      .object({
        account_sid: z.string().regex(/^AC[0-9a-fA-F]{32}$/, 'AC followed by 32 hex digits'),
        from: z.string().regex(/^(whatsapp:)?\+[1-9]\d{6,14}$/, 'the WhatsApp sender in E.164, e.g. +14155238886'),
      })
      .strict(),
    credentials: z.object({ auth_token: secretValue }).strict(),
    webhook_secrets: z.object({}).strict(),
  },
  myoperator: {
    identifiers: z.object({ company_id: plainId, phone_number_id: plainId }).strict(),
    credentials: z.object({ api_key: secretValue }).strict(),
    webhook_secrets: z.object({ webhook_secret: secretValue }).strict(),
  },
} as const;

/** Which secret belongs to which group, per provider (the stored ciphertext holds them flat). */
export const secretNames = {
  meta: { credentials: ['access_token'], webhook_secrets: ['app_secret', 'verify_token'] },
  twilio: { credentials: ['auth_token'], webhook_secrets: [] },
  myoperator: { credentials: ['api_key'], webhook_secrets: ['webhook_secret'] },
} as const satisfies Record<SenderProvider, { credentials: readonly string[]; webhook_secrets: readonly string[] }>;

/** A fallback: another stored sender's id, or `env` (the deployment's). */
const fallbackId = z
  .string()
  .regex(/^(env|snd_[0-9A-HJKMNP-TV-Z]{26})$/, 'a sender id (snd_…) or env')
  .meta({
    description:
      "The sender that carries this one's messages while its circuit breaker is open (another provider or number of the same tenant): only messages no provider may have taken already",
  });

const common = {
  tenant: tenantField
    .optional()
    .meta({ description: 'The owning tenant. An admin with a tenant claim may omit it (its own); one without a claim must name it.' }),
  label,
  mps: mps.default(DEFAULT_SENDER_MPS),
  default: z.boolean().default(false).meta({ description: "Make it the tenant's default sender (the previous default stops being one)" }),
  disabled: z.boolean().default(false),
  fallback: fallbackId.nullable().default(null),
};

export const senderCreate = z
  .discriminatedUnion('provider', [
    z
      .object({
        provider: z.literal('meta'),
        ...common,
        identifiers: senderShapes.meta.identifiers,
        credentials: senderShapes.meta.credentials,
        webhook_secrets: senderShapes.meta.webhook_secrets,
      })
      .strict(),
    z
      .object({
        provider: z.literal('twilio'),
        ...common,
        identifiers: senderShapes.twilio.identifiers,
        credentials: senderShapes.twilio.credentials,
        webhook_secrets: senderShapes.twilio.webhook_secrets.default({}),
      })
      .strict(),
    z
      .object({
        provider: z.literal('myoperator'),
        ...common,
        identifiers: senderShapes.myoperator.identifiers,
        credentials: senderShapes.myoperator.credentials,
        webhook_secrets: senderShapes.myoperator.webhook_secrets,
      })
      .strict(),
  ])
  .meta({
    example: {
      provider: 'meta',
      tenant: 'bakery',
      label: 'Bakery main number',
      mps: 80,
      default: true,
      identifiers: { phone_number_id: '106540352242922', waba_id: '102290129340398' },
      credentials: { access_token: 'EAAG…' },
      webhook_secrets: { app_secret: '3f2c…', verify_token: 'choose-a-long-random-string' },
    },
  });
export type SenderCreate = z.infer<typeof senderCreate>;

/**
 * A change: only what is given changes. A secret given replaces the stored one, a secret omitted
 * keeps its value, `null` removes an optional one (Meta's verify token). Fields of another
 * provider are refused against the sender's own provider (the service checks, naming the field).
 */
export const senderPatch = z
  .object({
    label: label.optional(),
    mps: mps.optional(),
    default: z.boolean().optional(),
    disabled: z.boolean().optional(),
    fallback: fallbackId.nullable().optional(),
    identifiers: z
      .object({
        phone_number_id: z.string().max(64).optional(),
        waba_id: z.string().max(64).optional(),
        account_sid: z.string().max(64).optional(),
        from: z.string().max(64).optional(),
        company_id: z.string().max(64).optional(),
      })
      .strict()
      .optional(),
    credentials: z
      .object({ access_token: secretValue.optional(), auth_token: secretValue.optional(), api_key: secretValue.optional() })
      .strict()
      .optional(),
    webhook_secrets: z
      .object({
        app_secret: secretValue.optional(),
        verify_token: secretValue.nullable().optional(),
        webhook_secret: secretValue.optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .meta({ example: { label: 'Bakery (new number)', mps: 200, credentials: { access_token: 'EAAG…new' } } });
export type SenderPatch = z.infer<typeof senderPatch>;

/** What a route shows of a secret: whether it is set, and its last four characters. */
export const secretHint = z
  .object({ set: z.boolean(), last4: z.string().optional() })
  .meta({ id: 'SecretHint', description: 'A secret is never returned: only whether it is set and its last four characters' });

export const senderView = z
  .object({
    id: z.string(),
    tenant: z.string().nullable().meta({ description: 'null for the deployment sender' }),
    provider: senderProvider,
    label: z.string(),
    mps: z.number().int(),
    default: z.boolean().meta({ description: "The tenant's default sender (for `env`: the deployment's)" }),
    disabled: z.boolean(),
    fallback: z.string().nullable().meta({ description: 'The sender that carries its messages while its circuit breaker is open' }),
    breaker: z
      .object({
        state: z.enum(['closed', 'open', 'half_open']),
        failures: z.number().int(),
        opened_at: z.iso.datetime().nullable(),
        retry_at: z.iso.datetime().nullable(),
        last_error: z.string().nullable(),
      })
      .nullable()
      .meta({ id: 'SenderBreaker', description: 'Its circuit breaker, as every worker sees it (null: not read, e.g. Redis away)' }),
    last_webhook_at: z.iso.datetime().nullable().meta({
      description: 'When a webhook signed with this sender\u2019s secret last arrived (to the second; null: none yet, or Redis away)',
    }),
    source: z
      .enum(['store', 'environment'])
      .meta({ description: '`environment`: built from WHATSAPP_PROVIDER and its variables, read-only' }),
    identifiers: z.record(z.string(), z.string().nullable()),
    credentials: z.record(z.string(), secretHint),
    webhook_secrets: z.record(z.string(), secretHint),
    encryption: z
      .object({ key_id: z.string(), readable: z.boolean() })
      .nullable()
      .meta({ description: 'The SENDER_KEYS key its secrets are sealed with, and whether this process can open them (null: environment)' }),
    created_at: z.iso.datetime().nullable(),
    updated_at: z.iso.datetime().nullable(),
    updated_by: z.string(),
  })
  .meta({
    id: 'Sender',
    example: {
      id: 'snd_01JH8ZQ6S9V3X4Y5Z6A7B8C9D0',
      tenant: 'bakery',
      provider: 'meta',
      label: 'Bakery main number',
      mps: 80,
      default: true,
      disabled: false,
      fallback: null,
      breaker: { state: 'closed', failures: 0, opened_at: null, retry_at: null, last_error: null },
      last_webhook_at: '2026-01-15T09:30:12.000Z',
      source: 'store',
      identifiers: { phone_number_id: '106540352242922', waba_id: '102290129340398' },
      credentials: { access_token: { set: true, last4: 'x9Qz' } },
      webhook_secrets: { app_secret: { set: true, last4: '8c1e' }, verify_token: { set: false } },
      encryption: { key_id: 'k1', readable: true },
      created_at: '2026-12-02T10:00:00.000Z',
      updated_at: '2026-12-02T10:00:00.000Z',
      updated_by: 'admin@bakery',
    },
  });
export type SenderView = z.infer<typeof senderView>;

/**
 * A sender as stored. Only ciphertext of its secrets: `secrets` seals `{name: value}` of its
 * credentials and webhook secrets, bound to its id and tenant. The tenant's default is the enabled
 * sender with the latest `default_at` (a timestamp rather than a flag, so two admins setting
 * different defaults at once still leave exactly one).
 */
export interface SenderDocument {
  _id: string;
  tenant: string;
  provider: SenderProvider;
  label: string;
  mps: number;
  /** When it became its tenant's default; null: not the default. */
  default_at: Date | null;
  disabled: boolean;
  /** The sender that carries its messages while its breaker is open (absent on senders stored before issue 14). */
  fallback?: string | null;
  identifiers: Record<string, string>;
  secrets: SealedSecret;
  /** Bumped on every write: updates are compare-and-set on it. */
  version: number;
  created_at: Date;
  updated_at: Date;
  updated_by: string;
}

/** The associated data a sender's secrets are sealed under: they open only on this sender of this tenant. */
export const senderAad = (doc: Pick<SenderDocument, '_id' | 'tenant'>): string => `sender:${doc._id}:tenant:${doc.tenant}`;

/** Shown of a secret: set or not, and its last four characters. */
export const hintOf = (value: string | undefined): z.infer<typeof secretHint> =>
  value ? { set: true, last4: value.slice(-4) } : { set: false };
