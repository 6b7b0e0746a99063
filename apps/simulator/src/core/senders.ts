import { z } from 'zod';
import type { ResolvedOptions } from '../options.ts';

/** One Meta business number: its id (in the send path and webhooks' metadata), token and app secret. */
export interface MetaAccount {
  phoneNumberId: string;
  accessToken: string;
  appSecret: string;
  wabaId: string;
  displayPhoneNumber: string;
}

/** One Twilio account: its AccountSid, auth token (Basic auth and webhook signatures) and WhatsApp number. */
export interface TwilioAccount {
  accountSid: string;
  authToken: string;
  from: string;
}

/** One MyOperator company: its id (X-MYOP-COMPANY-ID, webhooks' company_id), API key and webhook secret. */
export interface MyOperatorAccount {
  companyId: string;
  apiKey: string;
  webhookSecret: string;
  phoneNumberId: string | undefined;
}

const secret = z.string().min(1);
const digits = z.string().regex(/^\d{5,24}$/, 'must be digits');

/** `POST /_sim/senders`: one more number or account the simulator answers for. */
export const senderInput = z.discriminatedUnion('provider', [
  z.strictObject({
    provider: z.literal('meta'),
    phone_number_id: digits,
    access_token: secret,
    app_secret: secret,
    waba_id: digits.optional(),
    display_phone_number: digits.optional(),
  }),
  z.strictObject({
    provider: z.literal('twilio'),
    account_sid: z.string().regex(/^AC[0-9a-fA-F]{32}$/, 'must be AC followed by 32 hex digits'),
    auth_token: secret,
    from: z
      .string()
      .regex(/^(whatsapp:)?\+\d{7,15}$/, 'must be an E.164 number')
      .optional(),
  }),
  z.strictObject({
    provider: z.literal('myoperator'),
    company_id: z.string().min(1),
    api_key: secret,
    webhook_secret: secret,
    phone_number_id: z.string().min(1).optional(),
  }),
]);
export type SenderInput = z.infer<typeof senderInput>;

/** The default Meta number when META_PHONE_NUMBER_ID is unset (webhooks need one). */
export const DEFAULT_META_PHONE_NUMBER_ID = '100000000000002';
/** The default Twilio WhatsApp number of incoming messages. */
export const DEFAULT_TWILIO_FROM = '+14155238886';

/**
 * The numbers and accounts the simulator speaks for: the one its options (the environment) name,
 * the default, and any added through `POST /_sim/senders` — each with its own credentials, each
 * one's webhooks naming it and signed with its own secret. `/_sim/reset` keeps them;
 * `DELETE /_sim/senders` removes the added ones.
 */
export class SimSenders {
  readonly #options: ResolvedOptions;
  readonly #meta = new Map<string, MetaAccount>();
  readonly #twilio = new Map<string, TwilioAccount>();
  readonly #myoperator = new Map<string, MyOperatorAccount>();

  constructor(options: ResolvedOptions) {
    this.#options = options;
  }

  add(input: SenderInput): void {
    const o = this.#options;
    if (input.provider === 'meta') {
      this.#meta.set(input.phone_number_id, {
        phoneNumberId: input.phone_number_id,
        accessToken: input.access_token,
        appSecret: input.app_secret,
        wabaId: input.waba_id ?? o.meta.wabaId,
        displayPhoneNumber: input.display_phone_number ?? o.meta.displayPhoneNumber,
      });
    } else if (input.provider === 'twilio') {
      const from = input.from ? `+${input.from.replace(/\D/g, '')}` : DEFAULT_TWILIO_FROM;
      this.#twilio.set(input.account_sid, { accountSid: input.account_sid, authToken: input.auth_token, from });
    } else {
      this.#myoperator.set(input.company_id, {
        companyId: input.company_id,
        apiKey: input.api_key,
        webhookSecret: input.webhook_secret,
        phoneNumberId: input.phone_number_id,
      });
    }
  }

  clear(): void {
    this.#meta.clear();
    this.#twilio.clear();
    this.#myoperator.clear();
  }

  /** An added Meta number, or undefined (then the default account answers, as before senders). */
  addedMeta(phoneNumberId: string): MetaAccount | undefined {
    return this.#meta.get(phoneNumberId);
  }

  /** The account that speaks for `phoneNumberId`: an added one, else the default with that id. */
  meta(phoneNumberId: string | undefined): MetaAccount {
    const id = phoneNumberId ?? this.#options.meta.phoneNumberId ?? DEFAULT_META_PHONE_NUMBER_ID;
    const added = this.#meta.get(id);
    if (added) return added;
    const m = this.#options.meta;
    return {
      phoneNumberId: id,
      accessToken: m.accessToken,
      appSecret: m.appSecret,
      wabaId: m.wabaId,
      displayPhoneNumber: m.displayPhoneNumber,
    };
  }

  addedTwilio(accountSid: string): TwilioAccount | undefined {
    return this.#twilio.get(accountSid);
  }

  twilio(accountSid: string | undefined): TwilioAccount {
    const added = accountSid ? this.#twilio.get(accountSid) : undefined;
    if (added) return added;
    return { accountSid: this.#options.twilio.accountSid, authToken: this.#options.twilio.authToken, from: DEFAULT_TWILIO_FROM };
  }

  addedMyOperator(companyId: string): MyOperatorAccount | undefined {
    return this.#myoperator.get(companyId);
  }

  myoperator(companyId: string | undefined): MyOperatorAccount {
    const added = companyId ? this.#myoperator.get(companyId) : undefined;
    if (added) return added;
    const m = this.#options.myoperator;
    return { companyId: m.companyId, apiKey: m.apiKey, webhookSecret: m.webhookSecret, phoneNumberId: undefined };
  }

  /** What `GET /_sim/senders` shows: ids only, never a secret. */
  list(): { meta: string[]; twilio: string[]; myoperator: string[] } {
    return { meta: [...this.#meta.keys()], twilio: [...this.#twilio.keys()], myoperator: [...this.#myoperator.keys()] };
  }
}
