import { z } from 'zod';
import { digitsOf } from './phone.ts';

// Provider-neutral: error codes are the provider's own (Meta's today); the provider decides which
// codes exist and how each one is rendered on the wire.

const probability = z.number().min(0).max(1);
const milliseconds = z.number().int().min(0).max(600_000);
const seconds = z.number().int().min(0).max(86_400);
const statusName = z.enum(['sent', 'delivered', 'read']);

export function createFaultsSchema(knownCodes: ReadonlySet<number>) {
  const code = z
    .number()
    .int()
    .refine((value) => knownCodes.has(value), { message: 'unknown error code' });

  const scriptEntry = z
    .strictObject({
      /** Answer with this provider error code. */
      code: code.optional(),
      /** Answer with a bare HTTP 429 and a Retry-After header. */
      http_429: z.literal(true).optional(),
      /** Retry-After of an http_429 entry, in seconds. Default: the top-level retry_after_s. */
      retry_after_s: seconds.optional(),
      /** Latency added to this request, in ms (on top of latency_ms). */
      latency_ms: milliseconds.optional(),
      /** Accept the message but hold the answer for timeout_ms. */
      timeout: z.literal(true).optional(),
      /** Only requests to this number consume the entry (compared by digits). */
      to: z.string().regex(/\d/, 'must contain digits').optional(),
      /** Only requests sent as this sender consume the entry (Meta: the phone_number_id in the URL). */
      sender: z.string().min(1).optional(),
    })
    .refine((entry) => [entry.code !== undefined, entry.http_429, entry.timeout].filter(Boolean).length <= 1, {
      message: 'an entry takes at most one of code, http_429, timeout',
    });

  const webhooks = z.strictObject({
    /** Probability that a status webhook is never posted. */
    drop_rate: probability.default(0),
    /** Probability that a status webhook is posted twice. */
    duplicate_rate: probability.default(0),
    /** Post the statuses in reverse order (read first). */
    reorder: z.boolean().default(false),
    /** Whether a send answered too late (timeout, timeout_rate) still gets its status webhooks: false drops them all. */
    timed_out: z.boolean().default(true),
    /** Which statuses are posted at all. */
    statuses: z.array(statusName).default(['sent', 'delivered', 'read']),
    /** Per-status delay after acceptance, in ms. Default: the simulator's webhookDelaysMs option. */
    delays_ms: z.strictObject({ sent: milliseconds, delivered: milliseconds, read: milliseconds }).optional(),
    /** Post a `failed` status carrying this code instead of delivered/read, for a `rate` share of messages. */
    fail: z.strictObject({ code, rate: probability.default(1) }).optional(),
  });

  return z
    .strictObject({
      /** Consumed in order, one entry per send request; decides that request before random faults. */
      script: z.array(scriptEntry).default([]),
      /** Probability of each provider error code, per request. */
      error_rates: z
        .record(z.string().regex(/^\d+$/, 'must be a numeric error code'), probability)
        .superRefine((rates, ctx) => {
          for (const key of Object.keys(rates)) {
            if (!knownCodes.has(Number(key))) ctx.addIssue({ code: 'custom', path: [key], message: 'unknown error code' });
          }
        })
        .default({}),
      /** Probability of a bare HTTP 429 with Retry-After, per request. */
      rate_429: probability.default(0),
      /** Retry-After of 429 answers, in seconds. */
      retry_after_s: seconds.default(1),
      /** Latency added to every send, in ms. */
      latency_ms: milliseconds.default(0),
      /** Probability that a request is accepted but its answer is held for timeout_ms. */
      timeout_rate: probability.default(0),
      /** How long a timed-out answer is held, in ms. */
      timeout_ms: milliseconds.default(30_000),
      webhooks: webhooks.prefault({}),
      /**
       * Providers or senders that are down: every send to them is answered as that provider answers
       * when unavailable (Meta 131016 / HTTP 503, Twilio 20503, MyOperator 503), before any other fault.
       * `senders` are Meta phone_number_ids, Twilio AccountSids or From numbers, MyOperator phone_number_ids.
       */
      down: z
        .strictObject({
          providers: z.array(z.enum(['meta', 'twilio', 'myoperator'])).default([]),
          senders: z.array(z.string().min(1)).default([]),
        })
        .prefault({}),
    })
    .superRefine((faults, ctx) => {
      // One draw decides among all random outcomes, so each configured rate is honoured exactly;
      // that only works while they fit into one unit interval.
      const total = Object.values(faults.error_rates).reduce((sum, rate) => sum + rate, 0) + faults.rate_429 + faults.timeout_rate;
      if (total > 1) {
        ctx.addIssue({ code: 'custom', path: ['error_rates'], message: 'error_rates + rate_429 + timeout_rate must not exceed 1' });
      }
    });
}

export type FaultsSchema = ReturnType<typeof createFaultsSchema>;
export type Faults = z.output<FaultsSchema>;
export type FaultsInput = z.input<FaultsSchema>;
export type ScriptEntry = Faults['script'][number];
export type WebhookFaults = Faults['webhooks'];

/** What to do with one send request that passed authentication and validation. */
export type SendOutcome =
  | { kind: 'accept'; latencyMs: number }
  | { kind: 'error'; code: number; latencyMs: number }
  | { kind: 'http_429'; retryAfterS: number; latencyMs: number }
  | { kind: 'timeout'; holdMs: number; latencyMs: number };

type RandomOutcome = 'error' | 'http_429' | 'timeout';

export class FaultEngine {
  readonly #schema: FaultsSchema;
  readonly #random: () => number;
  #faults: Faults;
  // Cumulative thresholds of the random outcomes, rebuilt when the faults change (not per request).
  #randomOutcomes: Array<{ upTo: number; outcome: RandomOutcome; code: number }> = [];

  constructor(schema: FaultsSchema, random: () => number) {
    this.#schema = schema;
    this.#random = random;
    this.#faults = schema.parse({});
  }

  get faults(): Faults {
    return this.#faults;
  }

  /** Replaces the whole configuration; returns the zod error when it is invalid. */
  set(input: unknown): { ok: true; faults: Faults } | { ok: false; error: z.ZodError } {
    const parsed = this.#schema.safeParse(input);
    if (!parsed.success) return { ok: false, error: parsed.error };
    this.#faults = parsed.data;
    const rates: Array<[RandomOutcome, number, number]> = [
      ...Object.entries(parsed.data.error_rates).map(([code, rate]): [RandomOutcome, number, number] => ['error', rate, Number(code)]),
      ['http_429', parsed.data.rate_429, 0],
      ['timeout', parsed.data.timeout_rate, 0],
    ];
    let upTo = 0;
    this.#randomOutcomes = [];
    for (const [outcome, rate, code] of rates) {
      if (rate <= 0) continue;
      upTo += rate;
      this.#randomOutcomes.push({ upTo, outcome, code });
    }
    return { ok: true, faults: parsed.data };
  }

  reset(): void {
    this.set({});
  }

  /** Whether `provider` (or this `sender` of it) is down: its sends are refused as unavailable. */
  isDown(provider: string, sender?: string): boolean {
    const { providers, senders } = this.#faults.down;
    return (providers as string[]).includes(provider) || (sender !== undefined && senders.includes(sender));
  }

  /** Decides one request; consumes the first script entry that matches `to` (and `sender`, where the provider names one). */
  decide(to: string, sender?: string): SendOutcome {
    const faults = this.#faults;
    const entry = faults.script.length > 0 ? this.#takeScriptEntry(to, sender) : undefined;
    if (entry) {
      const latencyMs = faults.latency_ms + (entry.latency_ms ?? 0);
      if (entry.code !== undefined) return { kind: 'error', code: entry.code, latencyMs };
      if (entry.http_429) return { kind: 'http_429', retryAfterS: entry.retry_after_s ?? faults.retry_after_s, latencyMs };
      if (entry.timeout) return { kind: 'timeout', holdMs: faults.timeout_ms, latencyMs };
      // A scripted request is decided by its entry alone, so scripts stay deterministic.
      return { kind: 'accept', latencyMs };
    }
    const latencyMs = faults.latency_ms;
    if (this.#randomOutcomes.length === 0) return { kind: 'accept', latencyMs };
    const draw = this.#random();
    for (const candidate of this.#randomOutcomes) {
      if (draw >= candidate.upTo) continue;
      if (candidate.outcome === 'error') return { kind: 'error', code: candidate.code, latencyMs };
      if (candidate.outcome === 'http_429') return { kind: 'http_429', retryAfterS: faults.retry_after_s, latencyMs };
      return { kind: 'timeout', holdMs: faults.timeout_ms, latencyMs };
    }
    return { kind: 'accept', latencyMs };
  }

  #takeScriptEntry(to: string, sender: string | undefined): ScriptEntry | undefined {
    const script = this.#faults.script;
    const digits = digitsOf(to);
    const index = script.findIndex(
      (entry) => (entry.to === undefined || digitsOf(entry.to) === digits) && (entry.sender === undefined || entry.sender === sender),
    );
    if (index === -1) return undefined;
    return script.splice(index, 1)[0];
  }
}

/** The first problem of a zod error, its field written as a path like `script[0].code`. */
export function describeZodError(error: z.ZodError): { field: string; message: string } {
  const issue = error.issues[0];
  // An unknown key is reported on its parent object; name the key itself.
  const path = issue?.code === 'unrecognized_keys' ? [...issue.path, ...issue.keys.slice(0, 1)] : (issue?.path ?? []);
  const field = formatPath(path);
  return { field, message: issue ? `${field || '(body)'}: ${issue.message}` : 'invalid' };
}

export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}
