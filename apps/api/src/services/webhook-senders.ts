import {
  type Config,
  createWebhookAdapters,
  ENV_SENDER_ID,
  MetaWebhooks,
  MyOperatorWebhooks,
  openSender,
  type ProviderName,
  type RedisConnection,
  type SecretBox,
  SecretOpenError,
  type SenderDocument,
  TwilioWebhooks,
  unavailable,
  type WebhookAdapter,
} from '@herald/shared';
import type { Store } from '@herald/store';

/** A sender as its webhooks need it: who it is, and a verifier keyed with its own secret. */
export interface WebhookSender {
  /** `env` (the deployment's), or a stored sender's id. */
  id: string;
  tenant: string | null;
  identifiers: Record<string, string>;
  adapter: WebhookAdapter;
}

/** How long a sender's opened webhook secret is kept in memory, unless a sender changes first. */
export const WEBHOOK_SECRET_TTL_MS = 30_000;

/** The Redis key whose value changes whenever any sender is created or changed (every process reads it). */
const generationKey = (prefix: string) => `${prefix}:senders:generation`;

/**
 * Tells every API process that senders changed: their cached webhook secrets are dropped on the
 * next webhook. The admin routes call it after each create or update.
 */
export async function announceSenderChange(redis: RedisConnection, prefix: string): Promise<void> {
  await redis.incr(generationKey(prefix));
}

export interface WebhookSenderDeps {
  store: Pick<Store, 'senders'>;
  redis: RedisConnection;
  /** SENDER_KEYS as a box; without it a stored sender's webhooks cannot be verified (503). */
  box: SecretBox | undefined;
  config: Config;
  ttlMs?: number;
  now?: () => number;
}

/**
 * Finds the sender a webhook belongs to by the number or account it names, with that sender's
 * webhook secret opened. Opened secrets stay in memory for a short time (WEBHOOK_SECRET_TTL_MS),
 * and are dropped as soon as any sender changes: each lookup reads one Redis counter that every
 * change of a sender moves (announceSenderChange), so a new or changed sender is seen at once by
 * every process. Secrets are held inside the verifiers only (private fields), never logged.
 */
export class WebhookSenders {
  readonly #deps: WebhookSenderDeps;
  readonly #env: Partial<Record<ProviderName, WebhookAdapter>>;
  readonly #cache = new Map<string, { at: number; generation: string | null; senders: WebhookSender[] }>();

  constructor(deps: WebhookSenderDeps) {
    this.#deps = deps;
    this.#env = createWebhookAdapters(deps.config);
  }

  /** The deployment's sender for `provider`, if its webhook secret is configured. */
  env(provider: ProviderName): WebhookSender | undefined {
    const adapter = this.#env[provider];
    if (!adapter) return undefined;
    const c = this.#deps.config;
    const identifiers: Record<ProviderName, Record<string, string | undefined>> = {
      meta: { phone_number_id: c.META_PHONE_NUMBER_ID },
      twilio: { account_sid: c.TWILIO_ACCOUNT_SID, from: c.TWILIO_FROM },
      myoperator: { company_id: c.MYOPERATOR_COMPANY_ID, phone_number_id: c.MYOPERATOR_PHONE_NUMBER_ID },
    };
    const own = Object.fromEntries(Object.entries(identifiers[provider]).filter((e): e is [string, string] => e[1] !== undefined));
    return { id: ENV_SENDER_ID, tenant: null, identifiers: own, adapter };
  }

  /** Stored senders of `provider` whose identifier `name` is `value`, oldest first, secrets opened. */
  async find(provider: ProviderName, name: string, value: string): Promise<WebhookSender[]> {
    const key = `${provider}\u0000${name}\u0000${value}`;
    const now = (this.#deps.now ?? Date.now)();
    const generation = await this.#deps.redis.get(generationKey(this.#deps.config.QUEUE_PREFIX));
    const cached = this.#cache.get(key);
    if (cached && cached.generation === generation && now - cached.at < (this.#deps.ttlMs ?? WEBHOOK_SECRET_TTL_MS)) return cached.senders;
    const docs = await this.#deps.store.senders.byIdentifier(provider, name, value);
    const senders = docs.map((doc) => this.#open(doc));
    // Bounded: the cache holds the identifiers webhooks named (unknown ones too, as empty lists).
    if (this.#cache.size >= 10_000) this.#cache.clear();
    this.#cache.set(key, { at: now, generation, senders });
    return senders;
  }

  #open(doc: SenderDocument): WebhookSender {
    if (!this.#deps.box) throw unopenable(doc._id, 'SENDER_KEYS is not set in this process');
    let sender: ReturnType<typeof openSender>;
    try {
      sender = openSender(doc, this.#deps.box);
    } catch (err) {
      if (err instanceof SecretOpenError) throw unopenable(doc._id, err.message);
      throw err;
    }
    const adapter =
      sender.provider === 'meta'
        ? new MetaWebhooks(sender.app_secret)
        : sender.provider === 'twilio'
          ? new TwilioWebhooks(sender.auth_token)
          : new MyOperatorWebhooks(sender.webhook_secret, this.#deps.config.MYOPERATOR_WEBHOOK_HEADER);
    return { id: doc._id, tenant: doc.tenant, identifiers: { ...doc.identifiers }, adapter };
  }
}

/** A stored sender this process cannot open (its key is not in SENDER_KEYS): a 503, so that the provider retries once the keys are fixed, rather than a refusal that would lose the events. */
const unopenable = (id: string, reason: string) => {
  const err = unavailable(`the webhook secret of sender ${id} cannot be opened here (${reason}); see docs/security.md`);
  return Object.assign(err, { sender: id });
};
