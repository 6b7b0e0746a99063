// `pnpm token --role admin [--tenant T] [--ttl 1h] [--sub name]`: mints an API token for local use
// with the JWT_SECRET of .env (or the environment).
import { parseArgs } from 'node:util';
import { loadConfigOrExit } from '@herald/shared';
import { createSigner } from 'fast-jwt';
import { roles } from '../plugins/auth.ts';

const units: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

function parseTtl(value: string): number {
  const match = /^(\d+)([smhd])$/.exec(value);
  if (!match) throw new Error(`--ttl ${value}: use a number and a unit, e.g. 30m, 1h, 7d`);
  return Number(match[1]) * (units[match[2] as string] as number);
}

export function mintToken(secret: string, claims: { sub: string; role: string; tenant?: string | undefined }, ttlMs: number): string {
  const sign = createSigner({ key: secret, algorithm: 'HS256', expiresIn: ttlMs });
  return sign({ sub: claims.sub, role: claims.role, ...(claims.tenant ? { tenant: claims.tenant } : {}) });
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
  process.stdout.write(
    `${mintToken(config.JWT_SECRET as string, { sub: values.sub, role: values.role, tenant: values.tenant }, parseTtl(values.ttl))}\n`,
  );
}
