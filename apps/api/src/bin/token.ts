// `pnpm token --role admin [--tenant T] [--ttl 1h] [--sub name]`: mints an API token for local use
// with the current key of .env (or the environment): the first JWT_KEYS entry (its kid in the
// header), else JWT_SECRET.
import { parseArgs } from 'node:util';
import { loadConfigOrExit } from '@herald/shared';
import { roles } from '../plugins/auth.ts';
import { JwtKeyRing, signToken } from '../plugins/jwt-keys.ts';

const units: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

function parseTtl(value: string): number {
  const match = /^(\d+)([smhd])$/.exec(value);
  if (!match) throw new Error(`--ttl ${value}: use a number and a unit, e.g. 30m, 1h, 7d`);
  return Number(match[1]) * (units[match[2] as string] as number);
}

export function mintToken(
  secret: string,
  claims: { sub: string; role: string; tenant?: string | undefined },
  ttlMs: number,
  kid: string | null = null,
): string {
  return signToken(secret, kid, { sub: claims.sub, role: claims.role, ...(claims.tenant ? { tenant: claims.tenant } : {}) }, ttlMs);
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      role: { type: 'string', default: 'admin' },
      tenant: { type: 'string' },
      ttl: { type: 'string', default: '1h' },
      sub: { type: 'string', default: 'local-cli' },
    },
  });
  if (!(roles as readonly string[]).includes(values.role)) {
    process.stderr.write(`--role must be one of ${roles.join(', ')}\n`);
    process.exit(2);
  }
  const config = loadConfigOrExit('api');
  const { secret, kid } = new JwtKeyRing(config).signing;
  const extra = { ...(config.JWT_ISSUER ? { iss: config.JWT_ISSUER } : {}), ...(config.JWT_AUDIENCE ? { aud: config.JWT_AUDIENCE } : {}) };
  process.stdout.write(
    `${signToken(secret, kid, { sub: values.sub, role: values.role, ...(values.tenant ? { tenant: values.tenant } : {}), ...extra }, parseTtl(values.ttl))}\n`,
  );
}
