import { defineConfig } from 'vitest/config';

// One root run over every workspace package: each app and package is a vitest project with its
// own vitest.config.ts, so `pnpm test` ends with a single summary line for the whole suite.
export default defineConfig({
  test: {
    projects: ['apps/api', 'apps/worker', 'apps/simulator', 'packages/shared', 'packages/store', 'packages/client'],
    // One test file at a time. Each file starts its own API, workers and database, and FerretDB
    // 1.24 (the MongoDB-wire server used here) can deadlock its connection pool when one file
    // creates or drops a database while another floods it with updates (docs/storage.md, MongoDB or
    // FerretDB). Slower, but a run never hangs on the database.
    fileParallelism: false,
  },
});
