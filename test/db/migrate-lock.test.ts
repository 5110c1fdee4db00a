// Two `migrate up` at once: one applies, the other fails fast (never a second application).
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { readMigrationFiles } from '../../src/db/migrate/files.js';
import { MigrationError, migrateUp } from '../../src/db/migrate/runner.js';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';

describe('concurrent migrate up', () => {
  let db: TestDatabase | undefined;
  afterEach(async () => db?.drop());

  it('fails fast, naming the holder, while another migrate holds the lock', async () => {
    db = await createTestDatabase({ empty: true });
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    await holder.query(`SELECT pg_advisory_lock(hashtext('carebook:migrate'))`);
    try {
      const started = Date.now();
      const attempt = migrateUp({ databaseUrl: db.url });
      await expect(attempt).rejects.toBeInstanceOf(MigrationError);
      await expect(attempt).rejects.toThrow(
        /another `carebook migrate` is running on this database \(backend pid \d+\)/,
      );
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(await sql(db.pool, `SELECT to_regclass('public.clinics') AS t`)).toEqual([{ t: null }]);
    } finally {
      await holder.end();
    }
  });

  it('two processes started together: the schema is applied exactly once', async () => {
    db = await createTestDatabase({ empty: true });
    const env = { DATABASE_URL: db.url };
    const results = await Promise.all([runCli(['migrate', 'up'], env), runCli(['migrate', 'up'], env)]);
    const { files } = await readMigrationFiles();
    const appliedLines = results.filter((r) => r.code === 0 && /applied \d+:/.test(r.stdout));
    expect(appliedLines.length).toBeGreaterThanOrEqual(1);
    for (const result of results) {
      if (result.code !== 0)
        expect(result.stderr).toMatch(/another .* is running|Another migration is already running/);
    }
    const rows = await sql<{ name: string; n: number }>(
      db.pool,
      'SELECT name, count(*)::int AS n FROM carebook_migrations.pgmigrations GROUP BY name ORDER BY name',
    );
    expect(rows).toEqual(files.map((file) => ({ name: file.name, n: 1 })));
  });
});
