// The dashboard in a real browser: headless Chromium (Debian's `chromium` package) driven by
// playwright-core. `npm run test:browser`; `.ci/run` installs the package when it is missing.
// Not part of `npm test`: a machine with only Node.js and npm has no browser.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/browser/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
