import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Runbook scripts need PostgreSQL's client tools (pg_dump, psql): `npm run test:runbook`.
    // The PgBouncer suite needs Debian's pgbouncer and DATABASE_URL: `npm run test:pgbouncer`.
    // The browser test needs Chromium: `npm run test:browser`. The replica test needs the
    // PostgreSQL 15 server binaries: `npm run test:replica`.
    exclude: [
      'test/runbook/**',
      'test/browser/**',
      'test/pgbouncer/**',
      'test/replica/**',
      'node_modules/**',
    ],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    // A worker runs its test files one after another in one process, importing the app's modules
    // once. Each file still builds its own app, pools, servers and databases; no test mocks a
    // module, and the one that clears DATABASE_URL puts it back. Importing per file was 105–120 s
    // of the suite's worker time on two cores (the suite 362 → 251 s), and CI has 20 minutes.
    isolate: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
