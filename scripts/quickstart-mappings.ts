// Quick start (scripts/start.sh): gives each default template a Meta mapping to the simulator's
// APPROVED template of the same name (apps/simulator/src/providers/meta-template-registry.ts holds
// every default in en and en_US), so that a fresh install reaches any number: outside the 24-hour
// window only a provider template may be sent (SPEC 8). Only where Meta is wired to the
// simulator, and only a template with no Meta mapping: an admin's mapping is never overwritten.
// Usage: node scripts/quickstart-mappings.ts <api base URL> <admin token>
import { defaultTemplates } from '../packages/shared/src/templates/defaults.ts';

const [api, token] = process.argv.slice(2);
if (!api || !token) {
  process.stderr.write('usage: node scripts/quickstart-mappings.ts <api base URL> <admin token>\n');
  process.exit(2);
}
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

interface TemplateView {
  type: string;
  content: string;
  providers: { meta?: unknown };
}

/** The content's placeholders in order, each once: Meta's positional body parameters {{1}}, {{2}}, … */
const placeholders = (content: string) => [
  ...new Set([...content.matchAll(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g)].map((m) => m[1] as string)),
];

const res = await fetch(`${api}/api/notifications/templates`, { headers });
if (!res.ok) throw new Error(`listing templates: ${res.status} ${await res.text()}`);
const { items } = (await res.json()) as { items: TemplateView[] };
const defaults = new Set<string>(defaultTemplates.map((t) => t.type));
let mapped = 0;
for (const t of items) {
  if (!defaults.has(t.type) || t.providers.meta) continue;
  const put = await fetch(`${api}/api/notifications/templates/${t.type}`, {
    method: 'PUT',
    headers,
    body: JSON.stringify({
      content: t.content,
      providers: { ...t.providers, meta: { name: t.type, language: 'en_US', params: placeholders(t.content) } },
    }),
  });
  if (!put.ok) throw new Error(`mapping ${t.type}: ${put.status} ${await put.text()}`);
  mapped += 1;
}
process.stdout.write(`${mapped} default template(s) mapped to the simulator's approved Meta templates\n`);
