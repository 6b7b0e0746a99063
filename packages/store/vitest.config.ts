import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: '@herald/store',
    include: ['test/**/*.test.ts'],
    // Tests talk to a real MongoDB-wire server and Redis: give them room.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
