// Carebook behind a real PgBouncer in transaction mode: `npm run test:pgbouncer`. It needs Debian's
// `pgbouncer` (`.ci/run` installs it) and DATABASE_URL naming the PostgreSQL server PgBouncer
// fronts. Not part of `npm test`: a machine with only Node.js and npm has no PgBouncer.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/pgbouncer/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts', 'test/pgbouncer/require-server.ts'],
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
