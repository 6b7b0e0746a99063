import { z } from 'zod';
import type { ProviderTemplateChange } from '../templates/provider-templates.ts';

/**
 * Meta's template webhooks, sent to the same URL as message statuses and signed the same way:
 * `message_template_status_update` (a template approved, rejected, paused, disabled, …) and
 * `message_template_quality_update` (GREEN, YELLOW, RED, UNKNOWN).
 */
const body = z.object({
  entry: z.array(
    z.looseObject({
      time: z.union([z.number(), z.string()]).optional(),
      changes: z.array(z.looseObject({ field: z.string().optional(), value: z.unknown() })),
    }),
  ),
});

const statusValue = z.looseObject({
  event: z.string(),
  message_template_id: z.union([z.number(), z.string()]).optional(),
  message_template_name: z.string(),
  message_template_language: z.string(),
  reason: z.string().nullable().optional(),
  message_template_category: z.string().optional(),
  // A pause's reason is NONE; what happened is in other_info (title FIRST_PAUSE, …, and a sentence).
  other_info: z.looseObject({ title: z.string().optional(), description: z.string().optional() }).optional(),
  rejection_info: z.looseObject({ reason: z.string().optional() }).optional(),
});

const qualityValue = z.looseObject({
  new_quality_score: z.string(),
  message_template_id: z.union([z.number(), z.string()]).optional(),
  message_template_name: z.string(),
  message_template_language: z.string(),
});

/**
 * Events that name the template's new status. Others say something about a template without
 * naming its status: FLAGGED (it stays APPROVED, at risk), LOCKED/UNLOCKED (editing),
 * UNARCHIVED (back to whatever it was), LIMIT_EXCEEDED (the account's limit): those ask for a sync.
 */
const statusOfEvent: Record<string, string> = {
  APPROVED: 'APPROVED',
  REINSTATED: 'APPROVED',
  PENDING: 'PENDING',
  REJECTED: 'REJECTED',
  PAUSED: 'PAUSED',
  DISABLED: 'DISABLED',
  IN_APPEAL: 'IN_APPEAL',
  ARCHIVED: 'ARCHIVED',
  PENDING_DELETION: 'PENDING_DELETION',
  DELETED: 'DELETED',
};

export interface MetaTemplateEvents {
  changes: ProviderTemplateChange[];
  /** An event whose resulting status Herald cannot tell: read the templates again. */
  resync: boolean;
}

/** The template events of a Meta webhook body (none when it carries only messages and statuses). */
export function parseMetaTemplateEvents(json: unknown): MetaTemplateEvents {
  const out: MetaTemplateEvents = { changes: [], resync: false };
  const parsed = body.safeParse(json);
  if (!parsed.success) return out;
  for (const entry of parsed.data.entry) {
    const seconds = Number(entry.time);
    // A webhook stands for the end of its second: a sync read within that same second does not override it.
    const at = Number.isFinite(seconds) && seconds > 0 ? new Date(seconds * 1000 + 999) : new Date();
    for (const change of entry.changes) {
      if (change.field === 'message_template_status_update') {
        const v = statusValue.safeParse(change.value);
        if (!v.success) continue;
        const status = statusOfEvent[v.data.event.toUpperCase()];
        if (!status) {
          out.resync = true;
          continue;
        }
        const given = v.data.reason && v.data.reason !== 'NONE' ? v.data.reason : null;
        const detail = v.data.rejection_info?.reason ?? v.data.other_info?.description ?? v.data.other_info?.title;
        const reason = given && detail ? `${given}: ${detail}` : (given ?? detail ?? null);
        out.changes.push({
          name: v.data.message_template_name,
          language: v.data.message_template_language,
          at,
          status: { status, reason, category: v.data.message_template_category },
          ...(v.data.message_template_id !== undefined ? { provider_id: String(v.data.message_template_id) } : {}),
        });
      } else if (change.field === 'message_template_quality_update') {
        const v = qualityValue.safeParse(change.value);
        if (!v.success) continue;
        out.changes.push({
          name: v.data.message_template_name,
          language: v.data.message_template_language,
          at,
          quality: v.data.new_quality_score.toUpperCase(),
          ...(v.data.message_template_id !== undefined ? { provider_id: String(v.data.message_template_id) } : {}),
        });
      }
    }
  }
  return out;
}
