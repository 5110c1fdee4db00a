import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Runbook scripts need PostgreSQL's client tools (pg_dump, psql): `npm run test:runbook`.
    // The browser test needs Chromium: `npm run test:browser`.
    exclude: ['test/runbook/**', 'test/browser/**', 'node_modules/**'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
