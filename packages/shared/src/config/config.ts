import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { z } from 'zod';
import { parseSecretKeys, SecretKeyError } from '../crypto/secret-box.ts';

const port = z.coerce.number().int().min(0).max(65_535);
const positiveInt = z.coerce.number().int().positive();
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === '' ? undefined : v));
/**
 * A comma-separated list of inbound keywords, kept upper-case: an inbound text is compared with
 * them trimmed and upper-cased, so `Stop`, ` STOP ` and `stop` all match `STOP`.
 */
const keywords = (fallback: string) =>
  z
    .string()
    .prefault(fallback)
    .transform((v) => [...new Set(v.split(',').map((k) => k.trim().toUpperCase()))].filter((k) => k !== ''))
    .pipe(
      z
        .array(z.string())
        .min(1, 'must name at least one keyword')
        .refine((ks) => ks.every((k) => k.length <= 64), 'a keyword is at most 64 characters'),
    );
const flag = (fallback: 'true' | 'false') =>
  z
    .enum(['true', 'false', '1', '0'])
    .default(fallback)
    .transform((v) => v === 'true' || v === '1');

/**
 * Every environment variable Herald reads, with its default. `.env.example` lists the same names;
 * a test keeps the two in step. Values that are secrets default to nothing and are required where
 * they are used (see `requireFor`).
 */
export const configSchema = z
  .object({
    /** Interface the API listens on. @defaultValue 127.0.0.1 */
    HOST: z.string().min(1).default('127.0.0.1'),
    /** API port. @defaultValue 3000 */
    PORT: port.default(3000),
    /** Simulator port (local runs). @defaultValue 4010 */
    SIMULATOR_PORT: port.default(4010),
    /** Herald's base URL as the simulator reaches it; it appends each provider's webhook path. */
    SIMULATOR_WEBHOOK_URL: z.url().default('http://127.0.0.1:3000'),
    /** Prometheus port of each worker process. @defaultValue 9464 */
    WORKER_METRICS_PORT: port.default(9464),
    /** pino level. @defaultValue info */
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

    /** Redis for queues, idempotency keys and pub/sub. @defaultValue redis://127.0.0.1:6379 */
    REDIS_URL: z
      .string()
      .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
      .default('redis://127.0.0.1:6379'),
    /** Comma-separated host:port seeds; when set, Herald connects to a Redis Cluster instead. */
    REDIS_CLUSTER_NODES: optionalString,
    /**
     * Prefix of every BullMQ key. The braces are a Redis Cluster hash tag: every key of every queue
     * lands in one slot, which BullMQ's multi-key scripts need. @defaultValue {herald}
     */
    QUEUE_PREFIX: z.string().min(1).default('{herald}'),
    /** MongoDB (or FerretDB) connection string, database in the path. */
    MONGO_URL: z
      .string()
      .regex(/^mongodb(\+srv)?:\/\//, 'must be a mongodb:// URL')
      .default('mongodb://127.0.0.1:27017/herald'),

    /** HS256 secret for API tokens (at least 32 characters). */
    JWT_SECRET: optionalString.pipe(z.string().min(32, 'must be at least 32 characters').optional()),
    /**
     * HS256 keys chosen by the token's `kid`, for rotation: `kid1:secret1,kid2:secret2` (secrets ≥ 32
     * characters). The first one signs; all verify. JWT_SECRET stays the key of tokens without a kid.
     */
    JWT_KEYS: optionalString,
    /** How far `exp`/`nbf` may be off between the token's issuer and Herald, in ms. @defaultValue 30000 */
    JWT_CLOCK_SKEW_MS: z.coerce.number().int().min(0).max(300_000).default(30_000),
    /** PEM public key; enables RS256 tokens. */
    JWT_PUBLIC_KEY: optionalString,
    /** Required `iss` claim, when set. */
    JWT_ISSUER: optionalString,
    /** Required `aud` claim, when set. */
    JWT_AUDIENCE: optionalString,

    /** Which adapter sends. @defaultValue meta */
    WHATSAPP_PROVIDER: z.enum(['meta', 'twilio', 'myoperator']).default('meta'),
    /** Region for numbers written without a country code (ISO 3166 alpha-2). @defaultValue IN */
    DEFAULT_COUNTRY: z
      .string()
      .regex(/^[A-Z]{2}$/, 'must be an ISO 3166 alpha-2 code like IN')
      .default('IN'),
    /** `{{brand_name}}` in every template. @defaultValue Herald */
    BRAND_NAME: z.string().min(1).default('Herald'),
    /** First retry waits this long, then doubles (BullMQ exponential backoff). @defaultValue 300000 (5 min) */
    RETRY_BASE_DELAY_MS: positiveInt.default(300_000),
    /** How long `immediate: true` waits for the first attempt, in ms. @defaultValue 3000 */
    IMMEDIATE_WAIT_MS: z.coerce.number().int().min(0).max(30_000).default(3000),
    /** Messages per second per sender number, across all workers. @defaultValue 80 */
    PROVIDER_MPS: positiveInt.default(80),
    /** Jobs one worker process runs at once (I/O-bound). @defaultValue 50 */
    WORKER_CONCURRENCY: positiveInt.default(50),
    /**
     * Accept jobs a worker takes at once; their records go to history as one insertMany per batch,
     * so this is the largest batch. @defaultValue 200
     */
    ACCEPT_CONCURRENCY: positiveInt.default(200),
    /**
     * How often the API reads every recipient's preferences again, in ms: how stale its opt-out
     * answer at accept can be when it missed a change announcement. @defaultValue 30000
     */
    PREFERENCES_REFRESH_MS: positiveInt.default(30_000),
    /**
     * How long status events wait for others about the same messages before they are written
     * together, in ms (several webhooks for one message become one write). @defaultValue 100
     */
    STATUS_COALESCE_MS: z.coerce.number().int().min(0).max(5000).default(100),
    /**
     * Status jobs a worker process holds at once. Each waits in the coalescing window and then for
     * its batch's write, doing nothing meanwhile; too few and the webhooks of one message wait in
     * Redis behind each other, reach the worker apart, and become separate writes. @defaultValue 500
     */
    STATUS_CONCURRENCY: positiveInt.default(500),
    /** A job's lock; a killed worker's jobs are taken over once it lapses, in ms. @defaultValue 30000 */
    WORKER_LOCK_MS: positiveInt.default(30_000),
    /** Messages older than this many days are removed by the retention job. @defaultValue 90 */
    RETENTION_DAYS: positiveInt.default(90),
    /** How often the retention job runs, in ms. @defaultValue 3600000 (1 h) */
    RETENTION_INTERVAL_MS: positiveInt.default(3_600_000),
    /** How long an unknown provider id in a status event is retried before it is kept as an orphan, in ms. @defaultValue 60000 */
    STATUS_ORPHAN_AFTER_MS: positiveInt.default(60_000),
    /** Inbound texts that opt the sender out (comma-separated; any case, trimmed). @defaultValue STOP,UNSUBSCRIBE */
    OPT_OUT_KEYWORDS: keywords('STOP,UNSUBSCRIBE'),
    /** Inbound texts that opt the sender back in (comma-separated; any case, trimmed). @defaultValue START */
    OPT_IN_KEYWORDS: keywords('START'),
    /**
     * How long a process trusts its cached copy of a recipient's preferences, in ms. A change is
     * announced to every process at once; this bounds how stale a process that missed the
     * announcement can be. @defaultValue 30000
     */
    OPT_OUT_CACHE_TTL_MS: z.coerce.number().int().min(0).max(300_000).default(30_000),
    /** Recipients whose preferences one process keeps in memory (oldest dropped first). @defaultValue 100000 */
    OPT_OUT_CACHE_SIZE: positiveInt.default(100_000),

    META_API_BASE_URL: z.url().default('https://graph.facebook.com'),
    META_API_VERSION: z
      .string()
      .regex(/^v\d+\.\d+$/, 'must look like v24.0')
      .default('v24.0'),
    META_PHONE_NUMBER_ID: optionalString,
    META_ACCESS_TOKEN: optionalString,
    META_APP_SECRET: optionalString,
    META_VERIFY_TOKEN: optionalString,
    /**
     * The WhatsApp Business Account whose message templates Herald reads (template sync, with
     * META_ACCESS_TOKEN). Unset: no sync, and no send is refused for its template's Meta status.
     */
    META_WABA_ID: optionalString.pipe(z.string().regex(/^\d+$/, 'must be the numeric WhatsApp Business Account id').optional()),
    /**
     * How often the worker reads every template from Meta again, in ms (webhooks apply changes at
     * once; this catches any that were missed). 0 turns the schedule off. @defaultValue 900000 (15 min)
     */
    TEMPLATE_SYNC_INTERVAL_MS: z.coerce.number().int().min(0).default(900_000),
    /** Provider request timeout, in ms. @defaultValue 10000 */
    PROVIDER_TIMEOUT_MS: positiveInt.default(10_000),
    /**
     * How long a send whose outcome is unknown (the request went out, no answer came) waits for a
     * status webhook proving the provider took it, before it is retried (a retry that may
     * duplicate), in ms. @defaultValue 60000
     */
    UNKNOWN_OUTCOME_WAIT_MS: positiveInt.default(60_000),
    /** A stored sender's id: carries the deployment sender's messages while its circuit breaker is open. */
    ENV_SENDER_FALLBACK: optionalString.pipe(
      z
        .string()
        .regex(/^snd_[0-9A-HJKMNP-TV-Z]{26}$/, 'must be a stored sender id (snd_…)')
        .optional(),
    ),
    /** Transient failures in a row (5xx, refused, timeouts) that open a sender's circuit breaker. @defaultValue 5 */
    BREAKER_FAILURES: positiveInt.default(5),
    /** The window those failures must fall in, in ms. @defaultValue 30000 */
    BREAKER_WINDOW_MS: positiveInt.default(30_000),
    /** How long an open breaker sends nothing before one probe, in ms. @defaultValue 30000 */
    BREAKER_COOLDOWN_MS: positiveInt.default(30_000),

    TWILIO_API_BASE_URL: z.url().default('https://api.twilio.com'),
    TWILIO_ACCOUNT_SID: optionalString,
    TWILIO_AUTH_TOKEN: optionalString,
    TWILIO_FROM: optionalString,

    MYOPERATOR_API_BASE_URL: z.url().default('https://publicapi.myoperator.co'),
    MYOPERATOR_API_KEY: optionalString,
    MYOPERATOR_COMPANY_ID: optionalString,
    MYOPERATOR_PHONE_NUMBER_ID: optionalString,
    MYOPERATOR_WEBHOOK_SECRET: optionalString,
    /** MyOperator's send path (its public docs are thin: kept configurable). @defaultValue /chat/messages */
    MYOPERATOR_SEND_PATH: z.string().regex(/^\//, 'must start with /').default('/chat/messages'),
    /** Header carrying MYOPERATOR_WEBHOOK_SECRET on MyOperator's webhooks. @defaultValue x-myoperator-secret */
    MYOPERATOR_WEBHOOK_HEADER: z
      .string()
      .regex(/^[A-Za-z0-9-]+$/, 'must be a header name')
      .default('x-myoperator-secret'),

    /**
     * Keys that encrypt senders' credentials at rest (AES-256-GCM): `kid:base64,kid:base64`, each 32
     * bytes. The first encrypts, all decrypt: rotate by putting a new key first, re-encrypting
     * (`pnpm senders:reencrypt`), then dropping the old one (docs/security.md). Unset: no senders can
     * be stored; the environment's provider settings stay the one sender.
     */
    SENDER_KEYS: optionalString.superRefine((value, ctx) => {
      if (value === undefined) return;
      try {
        parseSecretKeys(value);
      } catch (err) {
        if (!(err instanceof SecretKeyError)) throw err;
        ctx.addIssue({ code: 'custom', message: err.message });
      }
    }),
    /**
     * The providers whose 24-hour customer-service window Herald enforces: free-form text to a
     * recipient outside it is refused at accept (409) instead of failing at the provider. Meta
     * (131047) and Twilio (63016) enforce it; MyOperator's documentation does not say, so add it
     * here if it does. `none` (or empty) turns it off, e.g. where inbound messages go to another
     * system and Herald never sees them open a window. @defaultValue meta,twilio
     */
    SERVICE_WINDOW_PROVIDERS: z
      .string()
      .default('meta,twilio')
      .transform((v) => [...new Set(v.split(',').map((p) => p.trim().toLowerCase()))].filter((p) => p !== '' && p !== 'none'))
      .pipe(z.array(z.enum(['meta', 'twilio', 'myoperator'], { error: 'must list meta, twilio and/or myoperator, or be none' }))),
    /** How providers reach Herald from outside (Twilio signs this URL). */
    PUBLIC_BASE_URL: z.url().default('http://127.0.0.1:3000'),
    /** HMAC key of the X-Herald-Signature header on callbacks. */
    CALLBACK_SECRET: optionalString,
    /** Attempts per callback POST (exponential backoff from CALLBACK_RETRY_BASE_MS). */
    CALLBACK_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(8),
    CALLBACK_RETRY_BASE_MS: z.coerce.number().int().min(1).default(2000),
    /** Time limit of one callback POST. */
    CALLBACK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5000),
    /** Lifetime of the Bull Board sign-in cookie made by /admin/login. */
    ADMIN_SESSION_TTL_S: z.coerce.number().int().min(60).max(86_400).default(900),
    /** Rate-limit window, in ms (counted in Redis, shared by every API instance). @defaultValue 60000 */
    RATE_LIMIT_WINDOW_MS: positiveInt.default(60_000),
    /** Requests per window per token subject. @defaultValue 120000 */
    RATE_LIMIT_TOKEN_MAX: positiveInt.default(120_000),
    /** Requests per window per IP without a valid token (webhooks excepted). @defaultValue 1200 */
    RATE_LIMIT_IP_MAX: positiveInt.default(1_200),
    /** Webhook requests per window per IP (providers batch, but call often). @defaultValue 60000 */
    RATE_LIMIT_WEBHOOK_MAX: positiveInt.default(60_000),
    /** Serve /docs (OpenAPI UI). @defaultValue true */
    DOCS_ENABLED: flag('true'),
  })
  .superRefine((c, ctx) => {
    // One word cannot mean both: which list wins would be an accident of the code's order.
    const both = c.OPT_IN_KEYWORDS.filter((k) => c.OPT_OUT_KEYWORDS.includes(k));
    if (both.length > 0)
      ctx.addIssue({ code: 'custom', path: ['OPT_IN_KEYWORDS'], message: `also in OPT_OUT_KEYWORDS: ${both.join(', ')}` });
  });

export type Config = z.infer<typeof configSchema>;

/** A configuration error: one line per bad variable, ready to print. */
export class ConfigError extends Error {
  readonly code = 'config_invalid';
  readonly lines: string[];
  constructor(lines: string[]) {
    super(lines.join('\n'));
    this.name = 'ConfigError';
    this.lines = lines;
  }
}

function describe(issues: z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => `${issue.path.join('.') || 'environment'}: ${issue.message}`);
}

/** Parses the environment once; throws ConfigError naming every bad variable. */
export function parseConfig(env: Record<string, string | undefined>): Config {
  // `NAME=` in a .env file means "not set": the default applies (PORT= must not become port 0).
  const given = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const result = configSchema.safeParse(given);
  if (!result.success) throw new ConfigError(describe(result.error.issues));
  return result.data;
}

/** What each role of process cannot run without. */
const required = {
  api: ['JWT_SECRET'],
  worker: [],
  meta: ['META_ACCESS_TOKEN', 'META_PHONE_NUMBER_ID'],
  'meta-webhook': ['META_APP_SECRET', 'META_VERIFY_TOKEN'],
  twilio: ['TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'TWILIO_FROM'],
  myoperator: ['MYOPERATOR_API_KEY', 'MYOPERATOR_COMPANY_ID', 'MYOPERATOR_PHONE_NUMBER_ID'],
} as const satisfies Record<string, readonly (keyof Config)[]>;

/** Throws ConfigError when a variable a process needs is unset. */
export function requireFor(config: Config, ...roles: (keyof typeof required)[]): void {
  const missing = new Set<string>();
  for (const role of roles) for (const name of required[role]) if (!config[name]) missing.add(name);
  if (missing.size > 0) throw new ConfigError([...missing].map((name) => `${name}: required`));
}

/**
 * Reads `.env` (if present) under the real environment: the environment wins, so a deployment
 * can override any line of the file.
 */
export function readEnv(envFile?: string): Record<string, string | undefined> {
  const file = envFile ?? findEnvFile();
  const fromFile = file && existsSync(file) ? parseEnv(readFileSync(file, 'utf8')) : {};
  return { ...fromFile, ...process.env };
}

function findEnvFile(): string | undefined {
  let dir = process.cwd();
  for (let i = 0; i < 5; i++) {
    if (existsSync(`${dir}/pnpm-workspace.yaml`)) return `${dir}/.env`;
    const parent = dir.replace(/\/[^/]+$/, '');
    if (parent === dir || parent === '') break;
    dir = parent;
  }
  return `${process.cwd()}/.env`;
}

/**
 * For process entry points: parse or print one line per bad variable and exit 1.
 */
export function loadConfigOrExit(...roles: (keyof typeof required)[]): Config {
  try {
    const config = parseConfig(readEnv());
    requireFor(config, ...roles);
    return config;
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const line of err.lines) process.stderr.write(`config: ${line}\n`);
      process.exit(1);
    }
    throw err;
  }
}
