// Every migration applies on this server; down/up round trips (whole and one step at a time)
// leave the schema identical to the approved baseline; down to zero leaves nothing behind.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMigrationFiles } from '../../src/db/migrate/files.js';
import { migrateDown, migrateUp, migrationStatus } from '../../src/db/migrate/runner.js';
import { diffSnapshots, snapshotSchema } from '../../src/db/schema-snapshot.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';

const baselinePath = path.resolve(import.meta.dirname, '..', '..', 'schema', 'baseline.sql');

describe('migrations on an empty database', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ empty: true });
  });
  afterAll(() => db.drop());

  const snapshot = async () => {
    const client = await db.pool.connect();
    try {
      return await snapshotSchema(client);
    } finally {
      client.release();
    }
  };

  it('applies every migration in order and records each checksum', async () => {
    const { files } = await readMigrationFiles();
    const applied = await migrateUp({ databaseUrl: db.url });
    expect(applied).toEqual(files.map((file) => file.name));
    const status = await migrationStatus({ databaseUrl: db.url });
    expect(status.problems).toEqual([]);
    expect(status.pending).toEqual([]);
    expect(status.applied.map((m) => m.sha256)).toEqual(files.map((file) => file.sha256));
  });

  it('produces exactly the approved baseline schema', async () => {
    const baseline = await readFile(baselinePath, 'utf8');
    expect(diffSnapshots(baseline, await snapshot())).toBeNull();
  });

  it('passes the smoke tests and loads no demo data unless asked', async () => {
    const smoke = await readFile(
      path.resolve(import.meta.dirname, '..', '..', 'docs/migrations/smoke_tests.sql'),
      'utf8',
    );
    await db.pool.query(smoke);
    expect(await sql(db.pool, 'SELECT count(*)::int AS n FROM clinics')).toEqual([{ n: 0 }]);
  });

  it('reverts and re-applies each migration one step at a time without changing the schema', async () => {
    const before = await snapshot();
    const { files } = await readMigrationFiles();
    for (const file of [...files].reverse()) {
      expect(await migrateDown({ databaseUrl: db.url })).toEqual([file.name]);
    }
    for (const file of files) {
      expect(await migrateUp({ databaseUrl: db.url, to: file.version })).toEqual([file.name]);
    }
    expect(diffSnapshots(before, await snapshot())).toBeNull();
  });

  it('goes down to zero leaving no application objects, and back up to the same schema', async () => {
    const before = await snapshot();
    await migrateDown({ databaseUrl: db.url, to: 0 });
    const left = await sql<{ name: string }>(
      db.pool,
      `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('public', 'audit') AND c.relkind IN ('r', 'v', 'S')`,
    );
    expect(left).toEqual([]);
    expect(await sql(db.pool, `SELECT 1 FROM pg_namespace WHERE nspname = 'audit'`)).toEqual([]);
    await migrateUp({ databaseUrl: db.url });
    expect(diffSnapshots(before, await snapshot())).toBeNull();
  });

  it('loads the demo data only when asked, and 00010 down removes it', async () => {
    await migrateDown({ databaseUrl: db.url, to: 9 });
    await migrateUp({ databaseUrl: db.url, demoData: true });
    const [counts] = await sql<{ clinics: number; slots: number }>(
      db.pool,
      'SELECT (SELECT count(*)::int FROM clinics) AS clinics, (SELECT count(*)::int FROM appointment_slots) AS slots',
    );
    expect(counts?.clinics).toBe(2);
    expect(counts?.slots).toBeGreaterThan(100);
    await migrateDown({ databaseUrl: db.url, to: 9 });
    expect(await sql(db.pool, 'SELECT count(*)::int AS n FROM clinics')).toEqual([{ n: 0 }]);
    await migrateUp({ databaseUrl: db.url });
  });
});
