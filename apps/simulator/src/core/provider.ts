import type { OutgoingWebhook } from './webhook-dispatcher.ts';

export type SignatureMode = 'valid' | 'invalid' | 'none';

export interface InboundText {
  /** Sender's phone number, with or without `+`. */
  from: string;
  text: string;
  /** Sender's profile name. */
  name?: string | undefined;
}

/**
 * What the provider-neutral control API needs from each provider: its webhooks, signed its way.
 * Each provider file registers its own send routes beside this.
 */
export interface ProviderWebhooks {
  /** An inbound text message from a user, as the provider would post it; `payload` is the parsed body. */
  inbound(input: InboundText): OutgoingWebhook & { payload: unknown };
  /** An arbitrary body, signed correctly, wrongly or not at all. */
  custom(body: string, signature: SignatureMode): OutgoingWebhook;
}
