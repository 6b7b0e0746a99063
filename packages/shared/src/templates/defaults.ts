import { z } from 'zod';

export const templateCategory = z.enum(['utility', 'marketing', 'authentication']);

/** Provider mappings: how a Herald template becomes each provider's approved template. */
export const templateProviders = z
  .object({
    meta: z
      .object({
        name: z.string().min(1).max(512),
        language: z.string().min(2).max(15),
        /** Context keys whose values fill the body parameters, in order. */
        params: z.array(z.string()).max(60),
      })
      .optional(),
    twilio: z
      .object({
        content_sid: z.string().regex(/^HX[0-9a-fA-F]{32}$/, 'must be a Twilio Content SID (HX…)'),
        /** Content variable number → context key, e.g. {"1": "customer_name"}. */
        variables: z.record(z.string().regex(/^\d+$/), z.string()),
      })
      .optional(),
    myoperator: z
      .object({
        template_name: z.string().min(1),
        language: z.string().min(2).max(15),
        params: z.array(z.string()).max(60),
      })
      .optional(),
  })
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
