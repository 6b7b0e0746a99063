// Quick start (scripts/start.sh): two tenants, `bakery` and `florist`, each with a WhatsApp number
// of its own on the simulator (issue 13), so a newcomer sees senders work: each tenant's messages
// go from its own number with its own credentials, and that number's webhooks come back signed
// with its own app secret. The simulator keeps its numbers in memory, so every start gives both
// numbers fresh credentials, in the simulator and in Herald (a secret given to PATCH replaces the
// stored one). Only the quick start's own two senders are touched.
// Usage: node scripts/quickstart-tenants.ts <api base URL> <simulator base URL> <admin token>
import { randomBytes } from 'node:crypto';

const [api, sim, token] = process.argv.slice(2);
if (!api || !sim || !token) {
  process.stderr.write('usage: node scripts/quickstart-tenants.ts <api base URL> <simulator base URL> <admin token>\n');
  process.exit(2);
}
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
const fresh = (prefix: string) => `${prefix}${randomBytes(16).toString('hex')}`;

const tenants = [
  { tenant: 'bakery', label: 'Bakery (quick start)', phone_number_id: '100000000000101', waba_id: '100000000000001' },
  { tenant: 'florist', label: 'Florist (quick start)', phone_number_id: '100000000000102', waba_id: '100000000000001' },
];

async function call(method: string, url: string, body?: object): Promise<Record<string, unknown>> {
  const res = await fetch(url, { method, headers, ...(body ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${text}`);
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

for (const t of tenants) {
  const access_token = fresh('EAAG');
  const app_secret = fresh('');
  await call('POST', `${sim}/_sim/senders`, { provider: 'meta', phone_number_id: t.phone_number_id, access_token, app_secret });
  const { items } = (await call('GET', `${api}/api/v1/admin/senders?tenant=${t.tenant}`)) as { items: { id: string; label: string }[] };
  const mine = items.find((s) => s.label === t.label);
  const secrets = { credentials: { access_token }, webhook_secrets: { app_secret } };
  if (mine) {
    await call('PATCH', `${api}/api/v1/admin/senders/${mine.id}`, secrets);
  } else {
    await call('POST', `${api}/api/v1/admin/senders`, {
      tenant: t.tenant,
      provider: 'meta',
      label: t.label,
      default: true,
      identifiers: { phone_number_id: t.phone_number_id, waba_id: t.waba_id },
      ...secrets,
    });
  }
}
process.stdout.write(
  `tenants ${tenants.map((t) => `${t.tenant} (number ${t.phone_number_id})`).join(' and ')} send from their own numbers\n`,
);
