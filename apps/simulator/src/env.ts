import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { z } from 'zod';
import type { StartSimulatorOptions } from './start.ts';

const delays = z
  .string()
  .regex(/^\s*\d+\s*,\s*\d+\s*,\s*\d+\s*$/, 'must be three millisecond values "sent,delivered,read", e.g. 20,40,60')
  .transform((value) => {
    const [sent = 0, delivered = 0, read = 0] = value.split(',').map(Number);
    return { sent, delivered, read };
  });

export const envSchema = z.object({
  /** Port the simulator listens on. Default 4010. */
  SIMULATOR_PORT: z.coerce.number().int().min(0).max(65_535).default(4010),
  /** Interface to listen on; 0.0.0.0 in a container. Default 127.0.0.1. */
  HOST: z.string().min(1).default('127.0.0.1'),
  /** Herald's base URL, where webhooks go. Default http://127.0.0.1:3000. */
  SIMULATOR_WEBHOOK_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:3000'),
  /** The Bearer token sends must carry (Herald's META_ACCESS_TOKEN). Required. */
  META_ACCESS_TOKEN: z.string().min(1),
  /** Signs webhooks (Herald's META_APP_SECRET). Required. */
  META_APP_SECRET: z.string().min(1),
  /** When set, sends to another phone number id fail as an unknown object. Default: any id. */
  META_PHONE_NUMBER_ID: z.string().min(1).optional(),
  /** The WhatsApp Business Account id whose templates the management API lists (Herald's META_WABA_ID). Default 100000000000001. */
  META_WABA_ID: z.string().regex(/^\d+$/, 'must be digits').optional(),
  /** Twilio account the simulator accepts (Herald's TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN). Default: built-in test values. */
  TWILIO_ACCOUNT_SID: z.string().min(1).optional(),
  TWILIO_AUTH_TOKEN: z.string().min(1).optional(),
  /** MyOperator credentials the simulator accepts and the secret it sends on webhooks. Default: built-in test values. */
  MYOPERATOR_API_KEY: z.string().min(1).optional(),
  MYOPERATOR_COMPANY_ID: z.string().min(1).optional(),
  MYOPERATOR_WEBHOOK_SECRET: z.string().min(1).optional(),
  MYOPERATOR_WEBHOOK_HEADER: z.string().min(1).optional(),
  MYOPERATOR_SEND_PATH: z.string().startsWith('/').optional(),
  /** "sent,delivered,read" delays after acceptance, in ms. Default 20,40,60. */
  SIMULATOR_WEBHOOK_DELAYS_MS: delays.optional(),
  /** Refuse free-form text to numbers that have not written in 24 h (Meta 131047, Twilio 63016). Default false. */
  SIMULATOR_SERVICE_WINDOW: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional(),
  /** pino level. Default info. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type SimulatorEnv = z.output<typeof envSchema>;

/** `.env` at the repo root, if present, under the process environment (which wins). */
export function readEnv(dotEnvPath = new URL('../../../.env', import.meta.url)): Record<string, string | undefined> {
  const fromFile = existsSync(dotEnvPath) ? parseEnv(readFileSync(dotEnvPath, 'utf8')) : {};
  return { ...fromFile, ...process.env };
}

/** Parses the environment; on a bad value returns one line naming the variable. */
export function parseSimulatorEnv(env: Record<string, string | undefined>): { ok: true; env: SimulatorEnv } | { ok: false; error: string } {
  // `NAME=` in a .env file means "not set", not "set to nothing".
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = envSchema.safeParse(present);
  if (parsed.success) return { ok: true, env: parsed.data };
  const issue = parsed.error.issues[0];
  const name = String(issue?.path[0] ?? 'environment');
  const problem = present[name] === undefined ? 'is required' : `is invalid (${issue?.message ?? 'bad value'})`;
  return { ok: false, error: `simulator: environment variable ${name} ${problem}` };
}

export function optionsFromEnv(env: SimulatorEnv): StartSimulatorOptions & { logLevel: string } {
  return {
    port: env.SIMULATOR_PORT,
    host: env.HOST,
    webhookBaseUrl: env.SIMULATOR_WEBHOOK_URL,
    meta: {
      accessToken: env.META_ACCESS_TOKEN,
      appSecret: env.META_APP_SECRET,
      phoneNumberId: env.META_PHONE_NUMBER_ID,
      wabaId: env.META_WABA_ID,
    },
    twilio: { accountSid: env.TWILIO_ACCOUNT_SID, authToken: env.TWILIO_AUTH_TOKEN },
    myoperator: {
      apiKey: env.MYOPERATOR_API_KEY,
      companyId: env.MYOPERATOR_COMPANY_ID,
      webhookSecret: env.MYOPERATOR_WEBHOOK_SECRET,
      webhookHeader: env.MYOPERATOR_WEBHOOK_HEADER,
      sendPath: env.MYOPERATOR_SEND_PATH,
    },
    webhookDelaysMs: env.SIMULATOR_WEBHOOK_DELAYS_MS,
    serviceWindow: env.SIMULATOR_SERVICE_WINDOW,
    logLevel: env.LOG_LEVEL,
  };
}
