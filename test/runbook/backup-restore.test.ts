// Emergency rollback, restore path: tools/db_backup.sh → tools/db_restore.sh into a new, empty
// database, for real (pg_dump, pg_restore, psql, the carebook CLI), and the ways it refuses.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { adminUrl, createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { createClinic, createSlot } from '../helpers/fixtures.js';
import { bookHold, runTool } from './run-tool.js';

const KEY_TABLES = [
  'clinics',
  'users',
  'patients',
  'appointment_slots',
  'appointments',
  'payments',
  'booking_requests',
  'integrations',
  'webhook_events',
  'notifications',
  'inbound_messages',
  'audit.audit_log',
];

/** Row counts as the superuser (no row-level security), the reference the script must match. */
async function countRows(db: TestDatabase): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of KEY_TABLES) {
    counts[table] =
      (await sql<{ n: number }>(db.pool, `SELECT count(*)::int AS n FROM ${table}`))[0]?.n ?? -1;
  }
  return counts;
}

/** The "row counts" section of db_restore.sh's output. */
function reportedCounts(stdout: string): Record<string, number> {
  const section = stdout.slice(stdout.indexOf('==> row counts'));
  const counts: Record<string, number> = {};
  for (const match of section.matchAll(/^ {2}([a-z_.]+)\s+(\d+)\s*$/gm)) counts[match[1]!] = Number(match[2]);
  return counts;
}

async function asAdmin(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

describe('tools/db_backup.sh and tools/db_restore.sh', () => {
  let source: TestDatabase;
  let dir: string;
  let dump: string;
  const targets: TestDatabase[] = [];
  const emptyDatabase = async () => {
    const db = await createTestDatabase({ empty: true });
    targets.push(db);
    return db;
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'carebook-backup-'));
    source = await createTestDatabase();
    const clinic = await createClinic(source.pool, { patients: 3 });
    for (let i = 0; i < 3; i++) {
      await bookHold(source, clinic, await createSlot(source.pool, clinic, { priceCents: 4000 }), i);
    }
    await createSlot(source.pool, clinic);
    await source.pool.query(
      `WITH r AS (
         INSERT INTO webhook_requests (webhook_id, raw_body, request_url)
         VALUES ('00000000-0000-4000-8000-000000000001', '\\x7b7d', 'https://api.clinic.example/webhooks/stripe')
         RETURNING id)
       INSERT INTO webhook_events (webhook_id, provider, event_id, event_type, payload, request_id)
       SELECT '00000000-0000-4000-8000-000000000001', 'stripe', 'evt_backup', 'charge.refunded', '{}', r.id FROM r`,
    );
  });
  afterAll(async () => {
    for (const db of [source, ...targets]) await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('backs up to a file named after the UTC time and the last applied migration, with a summary', async () => {
    const result = await runTool('db_backup.sh', ['--dir', dir, '--label', 'INC-1'], {
      DATABASE_URL: source.url,
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const [last] = await sql<{ name: string }>(
      source.pool,
      'SELECT max(name) AS name FROM carebook_migrations.pgmigrations',
    );
    dump = result.stdout.match(/^backup written: (\S+)$/m)?.[1] ?? '';
    expect(path.dirname(dump)).toBe(dir);
    expect(path.basename(dump)).toMatch(
      new RegExp(`^${source.name}_\\d{8}T\\d{6}Z_${last?.name}_INC-1\\.dump$`),
    );
    expect(existsSync(dump)).toBe(true);
    expect(result.stdout).toMatch(/^size: \d+ bytes {2}sha256: [0-9a-f]{64}$/m);
    expect(result.stdout).toMatch(/^ +\d+ TABLE DATA$/m);
    expect(result.stdout).toMatch(/^ +\d+ POLICY$/m);
    expect(result.stdout).toContain(`dbname: ${source.name}`);
  });

  it('restores into an empty database: same row counts, migrate verify and smoke tests pass', async () => {
    const target = await emptyDatabase();
    const result = await runTool('db_restore.sh', [dump, target.url]);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(result.stdout).toContain('smoke tests passed');
    expect(result.stdout).toMatch(/verified: \d+ files, \d+ applied, 0 pending/);
    expect(result.stdout).toContain('restored and verified');

    const expected = await countRows(source);
    expect(expected.appointments).toBe(3);
    expect(expected.webhook_events).toBe(1);
    expect(await countRows(target)).toEqual(expected);
    const reported = reportedCounts(result.stdout);
    for (const table of KEY_TABLES) expect(reported[table], table).toBe(expected[table]);

    // The restored database is usable by the app: verify passes from the CLI, grants and forced RLS came back.
    const verify = await runCli(['migrate', 'verify'], { DATABASE_URL: target.url });
    expect(verify.code, verify.stderr).toBe(0);
    const [security] = await sql<{ forced: boolean; app_can_book: boolean }>(
      target.pool,
      `SELECT (SELECT relforcerowsecurity FROM pg_class WHERE oid = 'appointments'::regclass) AS forced,
              has_function_privilege('carebook_app', 'book_appointment(uuid, uuid, text, text, jsonb)', 'EXECUTE') AS app_can_book`,
    );
    expect(security).toEqual({ forced: true, app_can_book: true });
    expect(await sql(target.pool, 'SELECT id, status, slot_id FROM appointments ORDER BY id')).toEqual(
      await sql(source.pool, 'SELECT id, status, slot_id FROM appointments ORDER BY id'),
    );
  });

  it('refuses a target that is not empty, and changes nothing', async () => {
    const result = await runTool('db_restore.sh', [dump, source.url]);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/is not empty .*pass --force/);
    expect(result.stdout).not.toContain('pg_restore');
    expect((await countRows(source)).appointments).toBe(3);
  });

  it('--force restores over a non-empty database: the dump wins', async () => {
    const target = await emptyDatabase();
    expect((await runTool('db_restore.sh', [dump, target.url])).code).toBe(0);
    await target.pool.query(`DELETE FROM webhook_events`);
    await target.pool.query(`INSERT INTO clinics (name, slug) VALUES ('Extra', 'extra-after-restore')`);
    const result = await runTool('db_restore.sh', ['--force', dump, target.url]);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(await countRows(target)).toEqual(await countRows(source));
  });

  it('checks the roles the dump names before touching the target', async () => {
    const role = `${source.name}_ghost`;
    const label = 'ghost';
    await asAdmin(`CREATE ROLE ${role} NOLOGIN`);
    let ghostDump = '';
    try {
      await source.pool.query(`GRANT SELECT ON clinics TO ${role}`);
      const backup = await runTool('db_backup.sh', ['--dir', dir, '--label', label], {
        DATABASE_URL: source.url,
      });
      expect(backup.code, backup.stderr).toBe(0);
      ghostDump = backup.stdout.match(/^backup written: (\S+)$/m)?.[1] ?? '';
    } finally {
      await source.pool.query(`REVOKE ALL ON clinics FROM ${role}`);
      await asAdmin(`DROP ROLE ${role}`);
    }
    const target = await emptyDatabase();
    const result = await runTool('db_restore.sh', [ghostDump, target.url]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`role(s) missing in the target cluster: ${role}`);
    expect(
      await sql(
        target.pool,
        `SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace`,
      ),
    ).toEqual([{ n: 0 }]);
  });

  it('tools/db_verify.sh (the check after a point-in-time restore) passes on a sound database, fails on an empty one', async () => {
    const sound = await runTool('db_verify.sh', [], { DATABASE_URL: source.url });
    expect(sound.code, sound.stderr).toBe(0);
    expect(reportedCounts(sound.stdout)).toMatchObject({ appointments: 3, webhook_events: 1 });
    expect(sound.stdout).toContain('smoke tests passed');

    const empty = await runTool('db_verify.sh', [(await emptyDatabase()).url]);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('FAILED: smoke tests');
    expect(empty.stderr).toContain('FAILED: no migration is applied');

    expect((await runTool('db_verify.sh', [])).code).toBe(2);
  });

  it('refuses what is not a dump, and a backup by a role that row-level security would hide rows from', async () => {
    const text = path.join(dir, 'not-a-dump.sql');
    writeFileSync(text, 'SELECT 1;\n');
    const target = await emptyDatabase();
    const notDump = await runTool('db_restore.sh', [text, target.url]);
    expect(notDump.code).toBe(2);
    expect(notDump.stderr).toContain('is not a pg_dump archive');

    expect((await runTool('db_backup.sh', ['--dir', dir])).code).toBe(2);

    const role = `${source.name}_reader`;
    await asAdmin(`CREATE ROLE ${role} LOGIN`);
    try {
      const url = new URL(source.url);
      url.username = role;
      const result = await runTool('db_backup.sh', ['--dir', dir], { DATABASE_URL: url.toString() });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('neither is a superuser nor has BYPASSRLS');
    } finally {
      await asAdmin(`DROP ROLE ${role}`);
    }
  });
});
