// `node bench/profile-summary.ts FILE.cpuprofile [...]`: where a V8 CPU profile (from
// `BENCH_PROFILE=dir pnpm bench`) spent its time — self time per package (node_modules/<name>,
// Herald's own code, Node internals, idle, GC) and the busiest functions.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

function packageOf(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native)';
  const pnpm = /node_modules\/\.pnpm\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pnpm) return pnpm[1] as string;
  const plain = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (plain) return plain[1] as string;
  if (url.startsWith('node:')) return 'node internals';
  const herald = /\/(apps\/[^/]+|packages\/[^/]+)\//.exec(url);
  return herald ? `herald ${herald[1]}` : url;
}

for (const file of process.argv.slice(2)) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
    total += dt;
  });
  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = (byId.get(id) as CpuProfile['nodes'][number]).callFrame;
    const name = functionName || '(anonymous)';
    const pkg = packageOf(url, name);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
    const fn = `${name} ${url ? `${basename(url)}:${lineNumber + 1}` : ''} [${pkg}]`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
  }
  const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)} %`;
  const busy = total - (byPackage.get('(idle)') ?? 0);
  console.log(`\n${basename(file)}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (${pct(busy)})`);
  console.log('  self time by package:');
  for (const [pkg, us] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 14)) console.log(`  ${pct(us)}  ${pkg}`);
  console.log('  busiest functions:');
  for (const [fn, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`  ${pct(us)}  ${fn}`);
}
