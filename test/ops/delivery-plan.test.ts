// docs/delivery-plan.md maps every file, workflow, checklist item and acceptance criterion of the
// seed delivery plan to where it lives now. Each path it gives as the place something lives must
// exist, and the names the plan's authors will look for must all be on the page.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const page = readFileSync(path.join(ROOT, 'docs', 'delivery-plan.md'), 'utf8');

/** The second cell of every table row (where the thing lives, or how it is checked). */
const whereColumn = page
  .split('\n')
  .filter((line) => line.startsWith('| ') && !/^\| (---|the plan)/.test(line))
  .map((line) => line.split(' | ')[1] ?? '');

/** Backticked repository paths: a slash or a file extension, no spaces, not a URL path. */
const paths = whereColumn.flatMap((cell) =>
  [...cell.matchAll(/`([^`\s]+)`/g)]
    .map((match) => match[1] as string)
    .filter((token) => !token.startsWith('/') && (token.includes('/') || /\.\w+$/.test(token))),
);

describe('docs/delivery-plan.md', () => {
  it('points only at paths that exist', () => {
    expect(paths.length).toBeGreaterThan(60);
    expect(paths.filter((file) => !existsSync(path.join(ROOT, file)))).toEqual([]);
  });

  it('covers what the plan names, including what differs from it', () => {
    for (const name of [
      'flyway.conf OR node-pg-migrate.config.js',
      'src/db/procedures/booking_procedure.sql',
      'src/services/booking_service_pseudocode.md',
      'src/workers/webhook_processor_pseudocode.md',
      '.github/workflows/db_migrations_dry_run.yml',
      '.github/workflows/concurrency_test.yml',
      '.github/workflows/webhook_contract_tests.yml',
      'test/concurrency/k6_booking_test.js',
      'tools/webhook_replay.sh',
      'docs/migrations/smoke_tests.sql',
      'migrations/manifest.json',
      'Sprint 1 validation checklist',
      'Sprint 2 validation checklist',
      'Sprint 3 validation checklist',
      'Acceptance criteria',
    ]) {
      expect(page, name).toContain(name);
    }
    // Every row that says it differs names the real code or file in its place.
    for (const line of page.split('\n').filter((l) => l.includes('**differs**'))) {
      expect(line.split(' | ')[1], line).toMatch(/`[^`]+\/[^`]+`/);
    }
  });

  it('is linked from the README', () => {
    expect(readFileSync(path.join(ROOT, 'README.md'), 'utf8')).toContain('docs/delivery-plan.md');
  });
});
