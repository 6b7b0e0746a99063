import {
  approvedStatus,
  type Config,
  HeraldError,
  type ProviderTemplateDocument,
  type ProviderTemplateMirror,
  providerTemplateKey,
  type TemplateDocument,
} from '@herald/shared';
import { z } from 'zod';

/**
 * Refuses, at accept, a message whose template goes out as a Meta template that Meta does not let
 * be sent (paused, disabled, rejected, pending, deleted, … in that language): a 409
 * `template_not_approved` naming the status and Meta's reason, instead of a failure after a
 * provider round trip. Only where Meta sends (WHATSAPP_PROVIDER=meta) and the template has a Meta
 * mapping. A Meta template Herald has never seen (no sync yet, META_WABA_ID unset) is not refused:
 * Herald cannot tell, and Meta's answer at send decides as before. Reads the in-memory mirror only.
 */
export function assertProviderTemplateSendable(
  config: Pick<Config, 'WHATSAPP_PROVIDER'>,
  template: Pick<TemplateDocument, 'type' | 'providers'>,
  mirror: Pick<ProviderTemplateMirror, 'get'>,
): void {
  if (config.WHATSAPP_PROVIDER !== 'meta') return;
  const mapping = template.providers?.meta;
  if (!mapping) return;
  const known = mirror.get('meta', mapping.name, mapping.language);
  if (!known || known.status === approvedStatus) return;
  const reason = known.reason ? `; Meta's reason: ${known.reason}` : '';
  throw new HeraldError(
    'template_not_approved',
    `template ${template.type} goes out as Meta template ${mapping.name} (${mapping.language}), which is ${known.status}, not APPROVED${reason}`,
  );
}

/** A template's Meta status as admins see it in the templates API. */
export const providerStatusView = z
  .object({
    name: z.string(),
    language: z.string(),
    status: z.string().meta({ description: "Meta's status: APPROVED, PENDING, REJECTED, PAUSED, DISABLED, …" }),
    quality: z.string().nullable().meta({ description: 'GREEN, YELLOW, RED or UNKNOWN; null when Meta has not said' }),
    reason: z.string().nullable().meta({ description: "Meta's reason for the status" }),
    category: z.string().nullable(),
    last_synced_at: z.iso.datetime().nullable().meta({ description: 'The last sync that listed it; null when known from webhooks only' }),
    updated_at: z.iso.datetime().meta({ description: 'When Herald last saw its status, quality, reason or category change' }),
  })
  .meta({ id: 'ProviderTemplateStatus' });

/**
 * `provider_status` of a template view: for its Meta mapping, the Meta template's state, or null
 * when Herald has never seen it from Meta (no sync yet). Empty without a Meta mapping.
 */
export const providerStatusField = z
  .object({ meta: providerStatusView.nullable().optional() })
  .meta({ description: "Each provider mapping's template as the provider reports it (Meta: synced and by webhook)" });

export function providerStatusOf(
  template: Pick<TemplateDocument, 'providers'>,
  find: (name: string, language: string) => ProviderTemplateDocument | null | undefined,
): z.infer<typeof providerStatusField> {
  const mapping = template.providers?.meta;
  if (!mapping) return {};
  const doc = find(mapping.name, mapping.language);
  if (!doc) return { meta: null };
  return {
    meta: {
      name: doc.name,
      language: doc.language,
      status: doc.status,
      quality: doc.quality,
      reason: doc.reason,
      category: doc.category,
      last_synced_at: doc.last_synced_at ? new Date(doc.last_synced_at).toISOString() : null,
      updated_at: new Date(doc.updated_at).toISOString(),
    },
  };
}

/** A lookup over provider-template records by Meta name and language. */
export function finderOf(docs: ProviderTemplateDocument[]): (name: string, language: string) => ProviderTemplateDocument | undefined {
  const byKey = new Map(docs.map((d) => [d._id, d]));
  return (name, language) => byKey.get(providerTemplateKey('meta', name, language));
}
