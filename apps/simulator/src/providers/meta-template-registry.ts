import { randomInt } from 'node:crypto';

/** One message template of the simulated WhatsApp Business Account. */
export interface SimTemplate {
  id: string;
  name: string;
  language: string;
  /** APPROVED, PENDING, REJECTED, PAUSED, DISABLED, … (Meta's words). */
  status: string;
  category: 'UTILITY' | 'MARKETING' | 'AUTHENTICATION';
  /** GREEN, YELLOW, RED, UNKNOWN. */
  quality: string;
  /** `rejected_reason` in the list; the webhook's `reason`. NONE when there is none. */
  reason: string;
}

/**
 * Herald's default template types (packages/shared/src/templates/defaults.ts), held APPROVED in
 * both `en` and `en_US` so that a fresh install's mappings, whichever code they name, are sendable.
 */
export const seededTemplates: readonly { name: string; category: SimTemplate['category'] }[] = [
  { name: 'delivery_reminder', category: 'UTILITY' },
  { name: 'delivery_confirmed', category: 'UTILITY' },
  { name: 'delivery_delayed', category: 'UTILITY' },
  { name: 'payment_reminder', category: 'UTILITY' },
  { name: 'payment_confirmation', category: 'UTILITY' },
  { name: 'subscription_confirmation', category: 'UTILITY' },
  { name: 'order_confirmation', category: 'UTILITY' },
  { name: 'pause_confirmation', category: 'UTILITY' },
  { name: 'churn_risk', category: 'MARKETING' },
  { name: 'new_product', category: 'MARKETING' },
  { name: 'system_alert', category: 'UTILITY' },
];
const seededLanguages = ['en', 'en_US'];

/** Send error codes of a template Meta holds but will not send (132015 paused, 132016 disabled, 132001 otherwise). */
const sendRefusal: Record<string, number> = { PAUSED: 132015, DISABLED: 132016 };

/** The account's templates, ordered by name then language (the list's paging order). */
export class MetaTemplates {
  readonly #byKey = new Map<string, SimTemplate>();

  constructor() {
    this.reset();
  }

  reset(): void {
    this.#byKey.clear();
    for (const t of seededTemplates) {
      for (const language of seededLanguages) this.upsert({ name: t.name, language, category: t.category });
    }
  }

  list(): SimTemplate[] {
    return [...this.#byKey.values()].sort((a, b) => (a.name === b.name ? cmp(a.language, b.language) : cmp(a.name, b.name)));
  }

  get(name: string, language: string): SimTemplate | undefined {
    return this.#byKey.get(`${name}\u0000${language}`);
  }

  /** Creates (APPROVED, GREEN unless given) or changes a template. */
  upsert(fields: { name: string; language: string } & Partial<Omit<SimTemplate, 'id' | 'name' | 'language'>>): SimTemplate {
    const key = `${fields.name}\u0000${fields.language}`;
    const current = this.#byKey.get(key) ?? {
      id: String(randomInt(100_000_000, 999_999_999)) + String(randomInt(1_000_000, 9_999_999)),
      name: fields.name,
      language: fields.language,
      status: 'APPROVED',
      category: 'UTILITY' as const,
      quality: 'UNKNOWN',
      reason: 'NONE',
    };
    const next: SimTemplate = {
      ...current,
      ...Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)),
    };
    this.#byKey.set(key, next);
    return next;
  }

  /** The Meta error code a send of this template gets, or undefined when Meta would send it (unknown templates are let through). */
  refusal(name: string, language: string): number | undefined {
    const t = this.get(name, language);
    if (!t || t.status === 'APPROVED') return undefined;
    return sendRefusal[t.status] ?? 132001;
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
