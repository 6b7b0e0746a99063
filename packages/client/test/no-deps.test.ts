import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;

// Upstream services install this package on its own: it must stay free of runtime dependencies
// (no mongodb, bullmq, got, ioredis, zod, @herald/shared …) — the platform's fetch and node: only.
describe('@herald/client has no runtime dependencies', () => {
  it('declares none', () => {
    expect(manifest.dependencies ?? {}).toEqual({});
    expect(manifest.peerDependencies ?? {}).toEqual({});
  });

  it('its sources import only each other and node: built-ins (type-only imports aside)', () => {
    const offenders: string[] = [];
    for (const file of readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' })) {
      if (!file.endsWith('.ts')) continue;
      const source = readFileSync(join(root, 'src', file), 'utf8');
      for (const m of source.matchAll(/^\s*(?:import|export)(?!\s+type\b)(?:[^'"]*?from)?\s*['"]([^'"]+)['"]/gm)) {
        const specifier = m[1] ?? '';
        if (!specifier.startsWith('./') && !specifier.startsWith('../') && !specifier.startsWith('node:')) {
          offenders.push(`${file}: ${specifier}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });
});
