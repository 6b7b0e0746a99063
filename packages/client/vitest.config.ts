import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: '@herald/client',
    include: ['test/**/*.test.ts'],
    // Tests talk to real Redis, FerretDB and HTTP servers: give them room.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
