// `pnpm fuzz`: 10,000 generated requests (FUZZ_RUNS) across every route of
// apps/api/test/fuzz/routes.ts against a real API; FUZZ_SEED=<n> replays a failing run.
import { runFuzz } from '../apps/api/test/fuzz/fuzz.ts';

const numRuns = Number(process.env.FUZZ_RUNS ?? 10_000);
const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
const started = Date.now();
try {
  const report = await runFuzz({ numRuns, ...(seed !== undefined ? { seed } : {}), log: (line) => process.stdout.write(`${line}\n`) });
  process.stdout.write(
    `fuzz: ${report.requests} requests in ${((Date.now() - started) / 1000).toFixed(1)} s, seed ${report.seed}, statuses ${JSON.stringify(report.byStatus)}, ${report.accepted} messages accepted; no violation\n`,
  );
  process.exit(0);
} catch (err) {
  process.stderr.write(`fuzz: FAILED (replay with FUZZ_SEED)\n${(err as Error).message}\n`);
  process.exit(1);
}
