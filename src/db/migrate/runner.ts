// `carebook migrate`: node-pg-migrate applies the files (ordering, one transaction per file, its
// advisory lock); this layer adds what it lacks. Every run
//   * takes a fail-fast lock of its own, so a second `migrate` exits at once with a clear message;
//   * refuses to run while `verify` finds a problem (renamed, edited or unlisted files);
//   * records each file's sha256 in the same transaction that applies it: a trigger on
//     node-pg-migrate's table copies it from a session setting, so a crash cannot separate them.
import { userInfo } from 'node:os';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import type { PoolingMode } from '../../config.js';
import { detectTransactionPooling } from '../pooling.js';
import { MigrationError } from './errors.js';
import {
  compareWithManifest,
  MIGRATIONS_DIR,
  type MigrationFile,
  type Problem,
  readManifest,
  readMigrationFiles,
} from './files.js';

export const META_SCHEMA = 'carebook_migrations';
const TABLE = 'pgmigrations';
/** Our own lock, distinct from node-pg-migrate's, held for the whole run. */
const LOCK_KEY = 'carebook:migrate';

export { MigrationError };

export interface MigrateOptions {
  databaseUrl: string;
  dir?: string;
  log?: (line: string) => void;
  /** Load 00010's demo data (sets carebook.seed_demo for the session). */
  demoData?: boolean;
  /** CAREBOOK_DATABASE_POOLING: `transaction` refuses at once; otherwise the URL is probed. */
  pooling?: PoolingMode;
}

export interface AppliedMigration {
  name: string;
  runOn: Date;
  sha256: string | null;
}

export interface MigrationStatus {
  files: MigrationFile[];
  applied: AppliedMigration[];
  pending: MigrationFile[];
  problems: Problem[];
}

/** Applies pending migrations, all of them or up to version `to`. Returns the names applied. */
export async function migrateUp(options: MigrateOptions & { to?: number }): Promise<string[]> {
  return withMigrationSession(options, async (client, status) => {
    const count = status.pending.filter(
      (file) => options.to === undefined || file.version <= options.to,
    ).length;
    if (count === 0) return [];
    return run(client, options, 'up', count);
  });
}

/** Reverts the last migration, or every migration above version `to` (0 reverts all). */
export async function migrateDown(options: MigrateOptions & { to?: number }): Promise<string[]> {
  return withMigrationSession(options, async (client, status) => {
    const versionOf = (name: string) => Number(name.slice(0, 5));
    const count =
      options.to === undefined
        ? Math.min(1, status.applied.length)
        : status.applied.filter((migration) => versionOf(migration.name) > (options.to ?? 0)).length;
    if (count === 0) return [];
    return run(client, options, 'down', count);
  });
}

/** Files, applied migrations and every problem `verify` reports, without changing anything. */
export async function migrationStatus(options: MigrateOptions): Promise<MigrationStatus> {
  const client = await connect(options.databaseUrl);
  try {
    return await readStatusAsReader(client, options.dir ?? MIGRATIONS_DIR);
  } finally {
    await client.end();
  }
}

/**
 * readStatus for a service login: a NOINHERIT member of the carebook_* roles can read the
 * migration tables only as carebook_readonly (granted by 00016), so the read switches to it when
 * that works; the owner or a superuser reads as itself. One transaction, rolled back.
 */
export async function readStatusAsReader(
  client: Pick<pg.ClientBase, 'query'>,
  disk: DiskState | string = MIGRATIONS_DIR,
): Promise<MigrationStatus> {
  await client.query('BEGIN READ ONLY');
  try {
    await client.query(
      // The catalogs, not to_regclass: resolving a name needs USAGE on its schema already.
      `SELECT set_config('role', 'carebook_readonly', true)
         FROM pg_roles r, pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE r.rolname = 'carebook_readonly' AND n.nspname = $1 AND c.relname = $2
          AND pg_has_role(session_user, r.oid, 'MEMBER') AND has_table_privilege(r.oid, c.oid, 'SELECT')`,
      [META_SCHEMA, TABLE],
    );
    return await readStatus(client, disk);
  } finally {
    await client.query('ROLLBACK').catch(() => {});
  }
}

async function withMigrationSession<T>(
  options: MigrateOptions,
  fn: (client: pg.Client, status: MigrationStatus) => Promise<T>,
): Promise<T> {
  await refuseTransactionPooling(options);
  const client = await connect(options.databaseUrl);
  try {
    const locked = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [
      LOCK_KEY,
    ]);
    if (!locked.rows[0]?.ok) {
      const holder = await client.query<{ pid: number }>(
        `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
           AND objid = (hashtext($1)::bigint & 4294967295)::oid AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
         LIMIT 1`,
        [LOCK_KEY],
      );
      const pid = holder.rows[0]?.pid;
      throw new MigrationError(
        `another \`carebook migrate\` is running on this database${pid ? ` (backend pid ${pid})` : ''}; try again when it has finished`,
      );
    }
    await ensureBookkeeping(client);
    const status = await readStatus(client, options.dir ?? MIGRATIONS_DIR);
    if (status.problems.length > 0) {
      throw new MigrationError(
        'refusing to migrate: `carebook migrate verify` reports problems',
        status.problems,
      );
    }
    const checksums = Object.fromEntries(status.files.map((file) => [file.name, file.sha256]));
    await client.query(`SELECT set_config('carebook.migration_checksums', $1, false)`, [
      JSON.stringify(checksums),
    ]);
    await client.query(`SELECT set_config('carebook.seed_demo', $1, false)`, [
      options.demoData ? 'on' : 'off',
    ]);
    await client.query(`SELECT set_config('carebook.actor', $1, false)`, [`migrate:${safeOsUser()}`]);
    return await fn(client, status);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Migrations hold session advisory locks and session settings across many transactions; behind a
 * transaction pooler those land on whichever server connection is free, so neither would hold.
 */
async function refuseTransactionPooling(options: MigrateOptions): Promise<void> {
  if (options.pooling === 'transaction' || (await detectTransactionPooling(options.databaseUrl))) {
    throw new MigrationError(
      'refusing to migrate through a transaction pooler (PgBouncer pool_mode=transaction): point DATABASE_URL straight at PostgreSQL (or a session-mode pool) for `carebook migrate`',
    );
  }
}

async function run(client: pg.Client, options: MigrateOptions, direction: 'up' | 'down', count: number) {
  const log = options.log ?? (() => {});
  const applied = await runner({
    dbClient: client,
    dir: options.dir ?? MIGRATIONS_DIR,
    migrationsSchema: META_SCHEMA,
    migrationsTable: TABLE,
    direction,
    count,
    singleTransaction: false, // each file in its own transaction: a failure keeps the ones before it
    checkOrder: true,
    ignorePattern: '(\\..*|manifest\\.json)',
    advisoryLockMode: 'fail',
    log: (message: string) => log(message),
  });
  return applied.map((migration) => migration.name);
}

async function connect(databaseUrl: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
  client.on('error', () => {}); // a dropped connection surfaces as a failed query instead
  await client.connect();
  return client;
}

/**
 * node-pg-migrate's table, created here first with the exact shape it expects, plus the
 * checksum table and the trigger that fills it in the applying transaction.
 */
async function ensureBookkeeping(client: pg.Client): Promise<void> {
  await client.query(`
    CREATE SCHEMA IF NOT EXISTS ${META_SCHEMA};
    COMMENT ON SCHEMA ${META_SCHEMA} IS 'Which migrations are applied, with the sha256 each file had when applied.';
    CREATE TABLE IF NOT EXISTS ${META_SCHEMA}.${TABLE} (
      id SERIAL PRIMARY KEY, name varchar(255) NOT NULL, run_on timestamp NOT NULL);
    CREATE TABLE IF NOT EXISTS ${META_SCHEMA}.checksums (
      name text PRIMARY KEY,
      sha256 text,
      applied_at timestamptz NOT NULL DEFAULT now(),
      applied_by text NOT NULL DEFAULT session_user);
    COMMENT ON TABLE ${META_SCHEMA}.checksums IS 'sha256 of each applied migration file, recorded in the transaction that applied it.';
    CREATE OR REPLACE FUNCTION ${META_SCHEMA}.tg_pgmigrations__record_checksum() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog AS $$
    BEGIN
      IF TG_OP = 'DELETE' THEN
        DELETE FROM ${META_SCHEMA}.checksums WHERE name = OLD.name;
        RETURN OLD;
      END IF;
      INSERT INTO ${META_SCHEMA}.checksums (name, sha256)
      VALUES (NEW.name, nullif(current_setting('carebook.migration_checksums', true), '')::jsonb ->> NEW.name)
      ON CONFLICT (name) DO UPDATE SET sha256 = EXCLUDED.sha256, applied_at = now(), applied_by = session_user;
      RETURN NEW;
    END $$;
    CREATE OR REPLACE TRIGGER _100_record_checksum AFTER INSERT OR DELETE ON ${META_SCHEMA}.${TABLE}
      FOR EACH ROW EXECUTE FUNCTION ${META_SCHEMA}.tg_pgmigrations__record_checksum();
    REVOKE ALL ON ALL TABLES IN SCHEMA ${META_SCHEMA} FROM PUBLIC;
  `);
}

/** The migration files and what is wrong with them, without a database. */
export interface DiskState {
  files: MigrationFile[];
  problems: Problem[];
}

export async function readDiskState(dir = MIGRATIONS_DIR): Promise<DiskState> {
  const { files, problems } = await readMigrationFiles(dir);
  return { files, problems: [...problems, ...compareWithManifest(files, await readManifest(dir))] };
}

/** Files, applied migrations and every problem; `disk` may be read once and reused (/readyz). */
export async function readStatus(
  client: Pick<pg.ClientBase, 'query'>,
  disk: DiskState | string = MIGRATIONS_DIR,
): Promise<MigrationStatus> {
  const { files, problems: diskProblems } = typeof disk === 'string' ? await readDiskState(disk) : disk;
  const problems = [...diskProblems];
  const applied = await readApplied(client);
  const byName = new Map(files.map((file) => [file.name, file]));
  applied.forEach((migration, index) => {
    const file = byName.get(migration.name);
    if (!file) {
      problems.push({
        code: 'applied_file_missing',
        message: `${migration.name} is applied but its file is gone`,
      });
    } else if (migration.sha256 === null) {
      problems.push({
        code: 'applied_without_checksum',
        message: `${migration.name} is applied but no checksum was recorded (applied outside \`carebook migrate\`?)`,
      });
    } else if (migration.sha256 !== file.sha256) {
      problems.push({
        code: 'applied_file_changed',
        message: `${file.file} changed after it was applied; never edit an applied migration, add a new one`,
      });
    }
    if (files[index]?.name !== migration.name) {
      problems.push({
        code: 'applied_out_of_order',
        message: `${migration.name} is applied at position ${index + 1}, where ${files[index]?.file ?? 'no file'} stands`,
      });
    }
  });
  const appliedNames = new Set(applied.map((migration) => migration.name));
  return { files, applied, pending: files.filter((file) => !appliedNames.has(file.name)), problems };
}

async function readApplied(client: Pick<pg.ClientBase, 'query'>): Promise<AppliedMigration[]> {
  const exists = await client.query<{ applied: boolean; checksums: boolean }>(
    'SELECT to_regclass($1) IS NOT NULL AS applied, to_regclass($2) IS NOT NULL AS checksums',
    [`${META_SCHEMA}.${TABLE}`, `${META_SCHEMA}.checksums`],
  );
  if (!exists.rows[0]?.applied) return [];
  const result = await client.query<{ name: string; run_on: Date; sha256: string | null }>(
    exists.rows[0].checksums
      ? `SELECT m.name, m.run_on, c.sha256
           FROM ${META_SCHEMA}.${TABLE} m LEFT JOIN ${META_SCHEMA}.checksums c USING (name)
          ORDER BY m.run_on, m.id`
      : `SELECT name, run_on, NULL AS sha256 FROM ${META_SCHEMA}.${TABLE} ORDER BY run_on, id`,
  );
  return result.rows.map((row) => ({ name: row.name, runOn: row.run_on, sha256: row.sha256 }));
}

function safeOsUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}
