// `migrate verify` (and `migrate up`, which refuses to run on problems) catches an edited applied
// file, a gap in the numbering, a file missing from the manifest, a manifest entry without a file
// and a badly named file. Each case works on a private copy of migrations/.
import { appendFile, cp, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, readMigrationFiles } from '../../src/db/migrate/files.js';
import { MigrationError, migrateUp, migrationStatus } from '../../src/db/migrate/runner.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

describe('migrate verify', () => {
  let db: TestDatabase;
  let dir: string;
  let lastVersion: number;
  beforeAll(async () => {
    db = await createTestDatabase({ empty: true });
    lastVersion = (await readMigrationFiles()).files.length;
  });
  afterAll(() => db.drop());
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'carebook-migrations-'));
    await cp(MIGRATIONS_DIR, dir, { recursive: true });
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const codes = async () =>
    (await migrationStatus({ databaseUrl: db.url, dir })).problems.map((p) => p.code).sort();

  it('is clean for the repository as committed', async () => {
    expect(await codes()).toEqual([]);
  });

  it('catches an applied migration edited afterwards, and migrate up refuses to run', async () => {
    await migrateUp({ databaseUrl: db.url, dir });
    await appendFile(path.join(dir, '00003_clinics_patients_users.sql'), '\n-- an innocent-looking edit\n');
    expect(await codes()).toEqual(['applied_file_changed', 'manifest_checksum_mismatch']);
    const refused = migrateUp({ databaseUrl: db.url, dir });
    await expect(refused).rejects.toBeInstanceOf(MigrationError);
    await expect(refused).rejects.toMatchObject({
      problems: expect.arrayContaining([expect.objectContaining({ code: 'applied_file_changed' })]),
    });
  });

  it('catches a gap in the numbering and a file missing from the manifest', async () => {
    const skipped = String(lastVersion + 2).padStart(5, '0');
    await writeFile(
      path.join(dir, `${skipped}_skips_a_number.sql`),
      '-- Up Migration\nSELECT 1;\n-- Down Migration\nSELECT 1;\n',
    );
    expect(await codes()).toEqual(['not_in_manifest', 'not_sequential']);
    await expect(migrateUp({ databaseUrl: db.url, dir })).rejects.toBeInstanceOf(MigrationError);
  });

  it('catches a manifest entry whose file is gone and a badly named file', async () => {
    const last = (await readMigrationFiles(dir)).files.at(-1);
    await unlink(path.join(dir, last?.file ?? ''));
    await writeFile(path.join(dir, 'add-things.sql'), 'SELECT 1;\n');
    const found = await codes();
    expect(found).toContain('manifest_file_missing');
    expect(found).toContain('bad_file_name');
  });
});
