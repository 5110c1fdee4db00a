// The read-replica suite: a real primary and streaming standby that the test starts itself with
// the PostgreSQL 15 server binaries (/usr/lib/postgresql/15/bin, or CAREBOOK_PG15_BIN).
// `npm run test:replica`. Not part of `npm test`: a machine with only Node.js and npm has no
// such binaries.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/replica/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
