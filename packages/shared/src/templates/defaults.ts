import { z } from 'zod';
import { contextKey } from '../schemas/message.ts';

export const templateCategory = z.enum(['utility', 'marketing', 'authentication']);

/** A context key a mapping reads a value from. */
const contextRef = z.string().regex(contextKey, 'must be a context key ([A-Za-z_][A-Za-z0-9_]*)');
/** Meta's named parameters: lowercase letters, digits and underscores. */
const metaParameterName = z
  .string()
  .max(128)
  .regex(/^[a-z_][a-z0-9_]*$/, 'must be a Meta parameter name (lowercase letters, digits and _)');
/** A media id Meta gave an upload (`POST /{phone-number-id}/media`). */
const metaMediaId = z.string().min(1).max(128);

/**
 * Where a media header comes from: a link from the context (`link_from`, checked as a public
 * https URL when the message is accepted), or a media id, fixed (`id`) or from the context
 * (`id_from`). Exactly one of the three.
 */
const mediaSource = {
  link_from: contextRef.optional(),
  id_from: contextRef.optional(),
  id: metaMediaId.optional(),
};

/** The header of a Meta template: text with its one parameter, or media. */
export const metaHeaderMapping = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text'), text_from: contextRef, parameter_name: metaParameterName.optional() }).strict(),
  z.object({ type: z.literal('image'), ...mediaSource }).strict(),
  z.object({ type: z.literal('video'), ...mediaSource }).strict(),
  z
    .object({
      type: z.literal('document'),
      ...mediaSource,
      /** The file name the recipient sees, from the context or fixed. */
      filename_from: contextRef.optional(),
      filename: z.string().min(1).max(240).optional(),
    })
    .strict(),
]);
export type MetaHeaderMapping = z.infer<typeof metaHeaderMapping>;

/**
 * One body parameter: a context key (positional, `{{1}}`, `{{2}}`… in order), or a named
 * parameter of a template created with `parameter_format: NAMED`.
 */
export const metaBodyMapping = z.union([contextRef, z.object({ parameter_name: metaParameterName, from: contextRef }).strict()]);
export type MetaBodyMapping = z.infer<typeof metaBodyMapping>;

/** Meta numbers a template's buttons from 0; a template has at most 10. */
const buttonIndex = z.number().int().min(0).max(9);

/** A button that takes a parameter at send time; buttons without one need no mapping. */
export const metaButtonMapping = z.discriminatedUnion('type', [
  /** A URL button's dynamic suffix (appended to the URL approved with the template). */
  z.object({ type: z.literal('url'), index: buttonIndex, suffix_from: contextRef }).strict(),
  /** A quick reply's payload, returned in the webhook when the recipient taps it: fixed or from the context. */
  z
    .object({
      type: z.literal('quick_reply'),
      index: buttonIndex,
      payload: z.string().min(1).max(1024).optional(),
      payload_from: contextRef.optional(),
    })
    .strict(),
  /** A copy code button's coupon code. */
  z.object({ type: z.literal('copy_code'), index: buttonIndex, coupon_code_from: contextRef }).strict(),
]);
export type MetaButtonMapping = z.infer<typeof metaButtonMapping>;

/**
 * A Twilio Content template's media variable: the context key holding the media's full https URL
 * and, when the Content template's media URL is a fixed prefix followed by `{{n}}` (what WhatsApp
 * approval asks for), that prefix: Herald checks the URL starts with it and sends the rest.
 */
export const twilioMediaMapping = z
  .object({
    variable: z.string().regex(/^\d+$/, 'must be a Content variable number'),
    url_from: contextRef,
    url_prefix: z
      .url({ protocol: /^https$/ })
      .max(1024)
      .optional(),
  })
  .strict();
export type TwilioMediaMapping = z.infer<typeof twilioMediaMapping>;

/**
 * Provider mappings: how a Herald template becomes each provider's approved template. Every value
 * comes from a context key of the message; `templates/components.ts` checks at save that each key
 * is a variable of the template and turns a mapping into the provider's parameters at send.
 */
export const templateProviders = z
  .object({
    meta: z
      .object({
        name: z.string().min(1).max(512),
        language: z.string().min(2).max(15),
        /** Context keys whose values fill the body parameters, in order (the original form, SPEC 6). */
        params: z.array(z.string()).max(60).optional(),
        header: metaHeaderMapping.optional(),
        /** Body parameters: positional keys, or named ones; not both, and not together with `params`. */
        body: z.array(metaBodyMapping).max(60).optional(),
        buttons: z.array(metaButtonMapping).max(10).optional(),
      })
      .strict(),
    twilio: z
      .object({
        content_sid: z.string().regex(/^HX[0-9a-fA-F]{32}$/, 'must be a Twilio Content SID (HX…)'),
        /** Content variable number → context key, e.g. {"1": "customer_name"}. */
        variables: z.record(z.string().regex(/^\d+$/), z.string()),
        media: twilioMediaMapping.optional(),
      })
      .strict(),
    myoperator: z
      .object({
        template_name: z.string().min(1),
        language: z.string().min(2).max(15),
        params: z.array(z.string()).max(60),
      })
      .strict(),
  })
  .partial()
  .strict();
export type TemplateProviders = z.infer<typeof templateProviders>;

/** The template document (`notification_templates`, `_id` = type) of SPEC 6. */
export const templateDocument = z.object({
  _id: z.string(),
  type: z.string(),
  content: z.string(),
  active: z.boolean(),
  version: z.number().int().positive(),
  variables: z.array(z.string()),
  category: templateCategory,
  providers: templateProviders,
  /**
   * Inside the recipient's 24-hour window send the rendered text, outside it the provider
   * template (decided per message when it is sent). Needs a provider mapping. Absent: false.
   */
  prefer_text_in_window: z.boolean().optional(),
  updated_at: z.date(),
  updated_by: z.string(),
});
export type TemplateDocument = z.infer<typeof templateDocument>;

interface DefaultTemplate {
  type: string;
  content: string;
  variables: string[];
  category: z.infer<typeof templateCategory>;
}

/**
 * The eleven templates installed at first start and never overwritten afterwards (SPEC 6).
 * `variables` is part of the API: a send missing one is a 400; the SDK's helpers take them.
 */
export const defaultTemplates = [
  {
    type: 'delivery_reminder',
    content: 'Hi {{customer_name}}, your {{brand_name}} delivery is scheduled for {{delivery_date}}.',
    variables: ['customer_name', 'delivery_date'],
    category: 'utility',
  },
  {
    type: 'delivery_confirmed',
    content: '✓ Delivery confirmed for {{delivery_date}}. Thank you, {{customer_name}}!',
    variables: ['customer_name', 'delivery_date'],
    category: 'utility',
  },
  {
    type: 'delivery_delayed',
    content: '⏰ Your delivery is running late. New ETA: {{eta_time}}.',
    variables: ['eta_time'],
    category: 'utility',
  },
  { type: 'payment_reminder', content: 'Payment due: ₹{{amount}} for {{period}}.', variables: ['amount', 'period'], category: 'utility' },
  {
    type: 'payment_confirmation',
    content: '✓ Payment received! ₹{{amount}} for {{period}} via {{payment_method}}.',
    variables: ['amount', 'period', 'payment_method'],
    category: 'utility',
  },
  {
    type: 'subscription_confirmation',
    content: '✓ Subscription active: {{product}} from {{start_date}}.',
    variables: ['product', 'start_date'],
    category: 'utility',
  },
  {
    type: 'order_confirmation',
    content: 'Order #{{order_id}} confirmed. Delivery on {{delivery_date}}, total ₹{{total_amount}}.',
    variables: ['order_id', 'delivery_date', 'total_amount'],
    category: 'utility',
  },
  { type: 'pause_confirmation', content: '⏸️ Subscription paused until {{resume_date}}.', variables: ['resume_date'], category: 'utility' },
  {
    type: 'churn_risk',
    content: '❤️ We miss you, {{customer_name}}! Resume your subscription for 25% off.',
    variables: ['customer_name'],
    category: 'marketing',
  },
  {
    type: 'new_product',
    content: '🆕 {{product}} available from {{availability_date}}.',
    variables: ['product', 'availability_date'],
    category: 'marketing',
  },
  { type: 'system_alert', content: '⚠️ {{alert_message}}', variables: ['alert_message'], category: 'utility' },
] as const satisfies readonly DefaultTemplate[];

export type DefaultTemplateType = (typeof defaultTemplates)[number]['type'];
