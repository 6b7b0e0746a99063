import { describe, expect, it } from 'vitest';
import { runFuzz } from './fuzz/fuzz.ts';
import { fuzzRoutes } from './fuzz/routes.ts';

// CI-sized: `pnpm fuzz` runs 10,000 requests (FUZZ_RUNS, FUZZ_SEED to replay a failure).
describe('fuzzing every JSON route and webhook', () => {
  it(`${fuzzRoutes.length} routes, 320 generated requests: no 5xx, every 4xx names the problem, no message from an invalid request`, async () => {
    const report = await runFuzz({ numRuns: 320 });
    expect(report.requests).toBeGreaterThanOrEqual(320);
    expect(Object.keys(report.byStatus).every((s) => Number(s) < 500)).toBe(true);
  }, 180_000);
});
