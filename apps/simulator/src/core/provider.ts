import type { OutgoingWebhook } from './webhook-dispatcher.ts';

export type SignatureMode = 'valid' | 'invalid' | 'none';

/** A tap instead of typed text: a template's quick-reply button, or an interactive reply button or list row. */
export type InboundTap =
  | { kind: 'button'; payload: string; text: string }
  | { kind: 'button_reply' | 'list_reply'; id: string; title: string; description?: string | undefined };

export interface InboundText {
  /** Sender's phone number, with or without `+`. */
  from: string;
  /** The typed text; with a tap, ignored (the tap's label is the text). */
  text: string;
  /** Sender's profile name. */
  name?: string | undefined;
  /** The provider id of the message this one answers (Meta `context.id`, Twilio `OriginalRepliedMessageSid`). */
  replyTo?: string | undefined;
  tap?: InboundTap | undefined;
  /** When the user wrote, in ms (the webhook's timestamp where the provider sends one). */
  atMs: number;
  /** The number or account that receives it (Meta phone_number_id, Twilio AccountSid, MyOperator company id); default: the configured one. */
  sender?: string | undefined;
}

/**
 * What the provider-neutral control API needs from each provider: its webhooks, signed its way.
 * Each provider file registers its own send routes beside this.
 */
export interface ProviderWebhooks {
  /** The taps this provider posts (`inbound` with another tap kind is refused by the control API). */
  readonly taps: readonly InboundTap['kind'][];
  /** An inbound text message from a user, as the provider would post it; `payload` is the parsed body. */
  inbound(input: InboundText): OutgoingWebhook & { payload: unknown };
  /** An arbitrary body, signed correctly, wrongly or not at all, with the secret of `sender` (default: the configured one). */
  custom(body: string, signature: SignatureMode, sender?: string): OutgoingWebhook;
}
