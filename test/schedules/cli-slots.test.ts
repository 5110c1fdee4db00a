// `carebook slots generate` as an operator runs it, on the demo clinics' schedules: a summary
// line, a progress bar only on a terminal, a second run that changes nothing, and demo ids that
// are all valid RFC 9562 UUIDs (version and variant bits included).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childEnv, ROOT, runCli } from '../helpers/cli.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';

const SUMMARY =
  /^slots: 3 practitioner\(s\): created (\d+), unchanged (\d+), withdrawn (\d+), needs_review (\d+) \(/m;
const RFC_9562 = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('carebook slots generate', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    await sql(db.pool, 'SELECT seed_demo_data(28)');
  });
  afterAll(() => db.drop());

  it('generates the demo schedules, then finds nothing to change', async () => {
    const first = await runCli(['slots', 'generate'], { DATABASE_URL: db.url });
    expect(first.code, first.stderr).toBe(0);
    const [, created, unchanged] = first.stdout.match(SUMMARY) ?? [];
    expect(Number(created)).toBeGreaterThan(28 * 6);
    expect(Number(unchanged)).toBe(0);
    expect(first.stderr).not.toContain('['); // no bar when stderr is not a terminal

    const second = await runCli(['slots', 'generate', '--days', '7'], { DATABASE_URL: db.url });
    expect(second.stdout.match(SUMMARY)?.slice(1, 5).map(Number)).toEqual([0, expect.any(Number), 0, 0]);
  });

  it('draws a progress bar on a terminal', async () => {
    const command = `${process.execPath} --import tsx src/cli.ts slots generate --clinic 11111111-1111-4111-8111-111111111111`;
    const { stdout } = await promisify(execFile)('script', ['-qec', command, '/dev/null'], {
      cwd: ROOT,
      env: childEnv({ DATABASE_URL: db.url }),
    });
    expect(stdout).toMatch(/slots \[[█░]+\] 2\/2 practitioners/);
    expect(stdout).toMatch(/slots: 2 practitioner\(s\): created 0/);
  });

  it('refuses bad arguments with usage', async () => {
    expect((await runCli(['slots'], { DATABASE_URL: db.url })).code).toBe(2);
    const bad = await runCli(['slots', 'generate', '--days', '0'], { DATABASE_URL: db.url });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(
      "option '--days <N>' argument '0' is invalid. Expected a whole number from 1 to 366",
    );
    expect((await runCli(['slots', 'generate', '--help'])).code).toBe(0);
  });

  it('gives the demo clinics valid RFC 9562 ids everywhere', async () => {
    const ids = await sql<{ id: string }>(
      db.pool,
      `SELECT id::text FROM clinics UNION ALL SELECT id::text FROM users UNION ALL SELECT id::text FROM patients
       UNION ALL SELECT id::text FROM practitioner_schedules UNION ALL SELECT id::text FROM schedule_rules
       UNION ALL SELECT id::text FROM appointment_slots WHERE status = 'open'`,
    );
    expect(ids.length).toBeGreaterThan(100);
    expect(ids.filter((row) => !RFC_9562.test(row.id))).toEqual([]);
    const zones = await sql(db.pool, 'SELECT DISTINCT timezone FROM clinics ORDER BY timezone');
    expect(zones).toEqual([{ timezone: 'America/New_York' }, { timezone: 'Europe/Berlin' }]);
  });
});
