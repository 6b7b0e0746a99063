import { z } from 'zod';
import type { ProviderTemplateListing } from '../templates/provider-templates.ts';
import { providerHttp } from './http.ts';

export interface MetaTemplateSource {
  /** e.g. https://graph.facebook.com, or the simulator. */
  baseUrl: string;
  /** Graph API version, e.g. v24.0. */
  apiVersion: string;
  /** The WhatsApp Business Account id. */
  wabaId: string;
  accessToken: string;
  /** Timeout of one page request, in ms. @defaultValue 10000 */
  timeoutMs?: number;
  /** Templates per page (Meta's `limit`). @defaultValue 100 */
  pageSize?: number;
  /** Most pages read before giving up (a cursor that never ends). @defaultValue 1000 */
  maxPages?: number;
}

/** The fields Herald reads; the rest of a template (its components) is not needed to know whether it may be sent. */
const fields = 'name,language,status,category,quality_score,rejected_reason,id';

const page = z.object({
  data: z.array(
    z.looseObject({
      name: z.string(),
      language: z.string(),
      status: z.string(),
      category: z.string().optional(),
      id: z.union([z.string(), z.number()]).optional(),
      // Meta answers `{score, date}`; a bare string is read the same way.
      quality_score: z.union([z.string(), z.looseObject({ score: z.string().optional() })]).optional(),
      rejected_reason: z.string().optional(),
    }),
  ),
  paging: z
    .looseObject({
      cursors: z.looseObject({ after: z.string().optional() }).optional(),
      next: z.string().optional(),
    })
    .optional(),
});

const metaErrorBody = z.object({ error: z.looseObject({ message: z.string().optional(), code: z.number().optional() }) });

/** A sync that could not read the provider's templates (network, auth, a body that is not Meta's). */
export class TemplateSyncError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateSyncError';
  }
}

/**
 * Reads every message template of the account: `GET /{version}/{waba-id}/message_templates`,
 * page after page by `paging.cursors.after` while Meta says there is a next page (`paging.next`).
 * Herald asks for the next page itself with the cursor rather than following the `next` URL, so a
 * response can never send the access token to another host.
 */
export async function fetchMetaTemplates(source: MetaTemplateSource): Promise<{ templates: ProviderTemplateListing[]; pages: number }> {
  const http = providerHttp({
    baseUrl: source.baseUrl,
    timeoutMs: source.timeoutMs,
    headers: { authorization: `Bearer ${source.accessToken}` },
  });
  const path = `${encodeURIComponent(source.apiVersion)}/${encodeURIComponent(source.wabaId)}/message_templates`;
  const limit = String(source.pageSize ?? 100);
  const maxPages = source.maxPages ?? 1000;
  const templates: ProviderTemplateListing[] = [];
  let after: string | undefined;
  for (let pages = 1; ; pages++) {
    const searchParams: Record<string, string> = { fields, limit, ...(after ? { after } : {}) };
    let response: { statusCode: number; body: string };
    try {
      response = await http.get(path, { searchParams });
    } catch (err) {
      throw new TemplateSyncError(`Meta's template list did not answer: ${(err as Error).message}`);
    }
    const json = safeJson(response.body);
    if (response.statusCode < 200 || response.statusCode >= 300) {
      const error = metaErrorBody.safeParse(json);
      const detail = error.success
        ? `code ${error.data.error.code ?? '?'}: ${error.data.error.message ?? ''}`
        : response.body.slice(0, 200);
      throw new TemplateSyncError(`Meta refused the template list (HTTP ${response.statusCode}, ${detail})`);
    }
    const parsed = page.safeParse(json);
    if (!parsed.success) throw new TemplateSyncError("Meta's template list is not in the documented shape");
    for (const t of parsed.data.data) {
      const quality = typeof t.quality_score === 'string' ? t.quality_score : (t.quality_score?.score ?? null);
      templates.push({
        name: t.name,
        language: t.language,
        status: t.status.toUpperCase(),
        category: t.category ?? null,
        quality,
        reason: t.rejected_reason && t.rejected_reason !== 'NONE' ? t.rejected_reason : null,
        provider_id: t.id === undefined ? null : String(t.id),
      });
    }
    after = parsed.data.paging?.cursors?.after;
    if (!parsed.data.paging?.next || !after || parsed.data.data.length === 0) return { templates, pages };
    if (pages >= maxPages) throw new TemplateSyncError(`Meta's template list did not end within ${maxPages} pages`);
  }
}

function safeJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}
