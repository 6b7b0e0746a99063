import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../../../', import.meta.url).pathname;
const read = (path: string) => readFileSync(`${root}${path}`, 'utf8');

/** Every runtime dependency of every workspace package (workspace links excluded). */
function runtimeDependencies(): Set<string> {
  const names = new Set<string>();
  for (const dir of ['apps', 'packages']) {
    for (const pkg of readdirSync(`${root}${dir}`)) {
      const file = `${dir}/${pkg}/package.json`;
      if (!existsSync(`${root}${file}`)) continue;
      const deps = (JSON.parse(read(file)) as { dependencies?: Record<string, string> }).dependencies ?? {};
      for (const [name, range] of Object.entries(deps)) if (!range.startsWith('workspace:')) names.add(name);
    }
  }
  return names;
}

describe('supply chain', () => {
  it('SECURITY.md lists every runtime dependency with what it is for', () => {
    const security = read('SECURITY.md');
    // The first column of the dependency table: "| a, b |".
    const listed = new Set(
      security
        .split('\n')
        .filter((line) => line.startsWith('| ') && !line.startsWith('| Package') && !line.startsWith('| Who'))
        .flatMap((line) => (line.split('|')[1] ?? '').split(',').map((s) => s.trim())),
    );
    const missing = [...runtimeDependencies()].filter((name) => !listed.has(name));
    expect(missing, 'add these to the table in SECURITY.md').toEqual([]);
  });

  it('only msgpackr-extract may run install scripts, and new releases wait minimumReleaseAge', () => {
    const workspace = read('pnpm-workspace.yaml');
    const allowBuilds = /^allowBuilds:\n((?:[ \t]+\S.*\n?)+)/m.exec(workspace)?.[1] ?? '';
    const entries = allowBuilds
      .trim()
      .split('\n')
      .map((l) => l.trim());
    // `name: false` denies a build by name (keeps strict installs from failing on it): never a risk.
    expect(entries.filter((l) => !l.endsWith(': false'))).toEqual(['msgpackr-extract: true']);
    const age = Number(/^minimumReleaseAge:\s*(\d+)/m.exec(workspace)?.[1]);
    expect(age).toBeGreaterThanOrEqual(1440);
    const rootPkg = JSON.parse(read('package.json')) as { pnpm?: { onlyBuiltDependencies?: string[] } };
    expect((rootPkg.pnpm?.onlyBuiltDependencies ?? []).filter((n) => n !== 'msgpackr-extract')).toEqual([]);
  });

  it('the lockfile is committed and installs are frozen', () => {
    expect(existsSync(`${root}pnpm-lock.yaml`)).toBe(true);
    const toolchain = read('scripts/lib/toolchain.sh');
    const installs = toolchain.split('\n').filter((l) => /\bpnpm install\b/.test(l) && !l.trim().startsWith('#') && !l.includes('log '));
    expect(installs.length).toBeGreaterThan(0);
    for (const line of installs) expect(line).toContain('--frozen-lockfile');
  });
});
