// The runbook's scripts (tools/*.sh) run for real: they need PostgreSQL's client tools (pg_dump,
// pg_restore, psql) of the server's major version and a DATABASE_URL — `.ci/run` runs them against
// the PostgreSQL 15 server. `npm test` does not include them (a bare machine has no pg_dump).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/runbook/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
