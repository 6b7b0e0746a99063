import { createHash } from 'node:crypto';
import type { Config } from '../config/config.ts';
import type { ProviderName } from '../providers/provider.ts';
import type { RedisConnection } from '../queues/queues.ts';
import type { TemplateDocument } from '../templates/defaults.ts';
import { approvedStatus, type ProviderTemplateMirror } from '../templates/provider-templates.ts';

/**
 * The 24-hour customer-service window (SPEC 8): a recipient's message opens it; inside it any
 * message may be sent, outside it only a provider-approved template.
 */
export const serviceWindowMs = 24 * 60 * 60 * 1000;
/** How long a window key outlives its window: a late reader still sees when it closed. */
const keyMarginMs = 60 * 60 * 1000;

/**
 * Until the senders registry is wired, every message and every inbound belongs to the
 * deployment's default sender, built from the environment.
 */
export const defaultSenderId = 'env';

/**
 * Whether Herald enforces the window for `provider`: SERVICE_WINDOW_PROVIDERS, by default Meta
 * (error 131047) and Twilio (63016); MyOperator's documentation says nothing, so not by default.
 */
export function windowEnforced(config: Pick<Config, 'SERVICE_WINDOW_PROVIDERS'>, provider: ProviderName | string): boolean {
  return (config.SERVICE_WINDOW_PROVIDERS as readonly string[]).includes(provider);
}

/**
 * The Redis key of one (sender, recipient) window. The number is hashed so that no phone number
 * sits in a key name (key names show up in MONITOR, SCAN and slow logs); the prefix is the queue
 * prefix, whose hash tag keeps every Herald key in one cluster slot.
 */
export function serviceWindowKey(prefix: string, sender: string, phone: string): string {
  const digest = createHash('sha256').update(phone).digest('base64url').slice(0, 22);
  return `${prefix}:window:${sender}:${digest}`;
}

/** A window as read at one moment. */
export interface WindowState {
  /** The provider's time of the recipient's last message; null when Herald has none in the last 24 h. */
  lastInboundAt: Date | null;
  /** lastInboundAt + 24 h. */
  closesAt: Date | null;
  /** Whether `at` is before closesAt. */
  open: boolean;
}

// Keeps the newest time only: webhooks arrive out of order, and a retried older one must not
// shorten a window a newer message opened.
const recordScript = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local at = tonumber(ARGV[1])
if current >= at then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
return 1`;

export function windowStateOf(value: string | null | undefined, at: Date): WindowState {
  const ms = value ? Number(value) : Number.NaN;
  if (!Number.isFinite(ms)) return { lastInboundAt: null, closesAt: null, open: false };
  const closesAt = new Date(ms + serviceWindowMs);
  return { lastInboundAt: new Date(ms), closesAt, open: at.getTime() < closesAt.getTime() };
}

/**
 * Each (sender, recipient)'s last inbound message time, in Redis: the accept path reads it
 * without waiting on MongoDB, the worker's inbound processor writes it. A key expires an hour
 * after its window closes.
 */
export class ServiceWindows {
  readonly #redis: RedisConnection;
  readonly #prefix: string;

  constructor(redis: RedisConnection, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  /**
   * Records a recipient's message at `at` (the provider's timestamp). A time ahead of `receivedAt`
   * (a provider clock ahead of Herald's) counts as `receivedAt`, so it never stretches the window;
   * a message older than 24 h opens nothing. Returns whether the window moved.
   */
  async record(sender: string, phone: string, at: Date, receivedAt = new Date()): Promise<boolean> {
    const ms = Math.min(at.getTime(), receivedAt.getTime());
    if (!Number.isFinite(ms)) return false;
    const expiresAt = ms + serviceWindowMs + keyMarginMs;
    if (ms + serviceWindowMs <= Date.now()) return false;
    const moved = await this.#redis.eval(recordScript, 1, serviceWindowKey(this.#prefix, sender, phone), String(ms), String(expiresAt));
    return moved === 1;
  }

  async state(sender: string, phone: string, at = new Date()): Promise<WindowState> {
    return windowStateOf(await this.#redis.get(serviceWindowKey(this.#prefix, sender, phone)), at);
  }

  /** Forgets a person's windows (erasure). */
  async forget(phone: string, senders: readonly string[] = [defaultSenderId]): Promise<void> {
    if (senders.length === 0) return;
    await this.#redis.del(...senders.map((s) => serviceWindowKey(this.#prefix, s, phone)));
  }
}

/**
 * Whether a message of `template` can go out as a provider template on `provider`: the template
 * has a mapping for it, and (Meta) the mapped template is not known to be anything but APPROVED.
 * Otherwise it can only go as free-form text, which needs an open window.
 */
export function sendableAsProviderTemplate(
  provider: ProviderName | string,
  template: Pick<TemplateDocument, 'providers'>,
  mirror?: Pick<ProviderTemplateMirror, 'get'>,
): boolean {
  const mapping = template.providers?.[provider as ProviderName];
  if (!mapping) return false;
  if (provider === 'meta' && mirror && 'name' in mapping && 'language' in mapping) {
    const known = mirror.get('meta', mapping.name, mapping.language);
    if (known && known.status !== approvedStatus) return false;
  }
  return true;
}

/**
 * "the recipient has not written in the last 24 h" / "the 24 h window closed at …" (or, for a
 * message due later than `now`, "closes at …, before the message is due"), for errors and timelines.
 */
export function describeClosedWindow(state: WindowState, now = new Date()): string {
  if (!state.closesAt) return 'the recipient has not written in the last 24 h, so no customer-service window is open';
  const when = state.closesAt.toISOString();
  return state.closesAt > now
    ? `the 24 h customer-service window closes at ${when} (24 h after the recipient's last message), before the message is due`
    : `the 24 h customer-service window closed at ${when} (24 h after the recipient's last message)`;
}
