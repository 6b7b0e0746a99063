import { defineConfig } from 'vitest/config';

// One root run over every workspace package: each app and package is a vitest project with its
// own vitest.config.ts, so `pnpm test` ends with a single summary line for the whole suite.
export default defineConfig({
  test: {
    projects: ['apps/api', 'apps/worker', 'apps/simulator', 'packages/shared'],
  },
});
