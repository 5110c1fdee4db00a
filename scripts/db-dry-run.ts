// npm run db:dry-run — the migration gate CI runs before merge, on a throwaway database:
//   lint (squawk, Up sections) → verify → apply all → smoke tests → RLS probes →
//   down to zero → up again → schema diff against schema/baseline.sql.
// Uses DATABASE_URL's server when set, else an embedded PostgreSQL. Writes the schema snapshot and
// a log to artifacts/dry-run/. Exits 1 on the first failed step, printing why.
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { openCluster, uniqueDatabaseName } from '../src/db/cluster.js';
import { MIGRATIONS_DIR, readMigrationFiles } from '../src/db/migrate/files.js';
import { migrateDown, migrateUp, migrationStatus } from '../src/db/migrate/runner.js';
import { diffSnapshots, snapshotSchema } from '../src/db/schema-snapshot.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const OUT = path.join(ROOT, 'artifacts', 'dry-run');
const log: string[] = [];
const say = (line: string) => {
  log.push(line);
  console.log(line);
};

async function step(name: string, fn: () => Promise<string | undefined>): Promise<void> {
  const started = Date.now();
  try {
    const note = await fn();
    say(`ok    ${name} (${Date.now() - started} ms)${note ? ` — ${note}` : ''}`);
  } catch (error) {
    say(`FAIL  ${name}: ${error instanceof Error ? error.message : String(error)}`);
    throw error;
  }
}

async function lintMigrations(): Promise<string> {
  const dir = path.join(OUT, 'squawk');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const { files } = await readMigrationFiles();
  const paths: string[] = [];
  for (const file of files.filter((f) => f.file.endsWith('.sql'))) {
    const content = await readFile(path.join(MIGRATIONS_DIR, file.file), 'utf8');
    const up = content.split(/^--\s*Down Migration/im)[0] ?? '';
    const target = path.join(dir, file.file);
    await writeFile(target, up.slice(Math.max(0, up.search(/^--\s*Up Migration/im))));
    paths.push(target);
  }
  try {
    await promisify(execFile)(path.join(ROOT, 'node_modules', '.bin', 'squawk'), [
      '-c',
      path.join(ROOT, '.squawk.toml'),
      '--reporter',
      'gcc',
      ...paths,
    ]);
  } catch (error) {
    const output = (error as { stdout?: string }).stdout ?? String(error);
    throw new Error(`squawk found lock-unsafe statements:\n${output}`);
  }
  return `${paths.length} files clean`;
}

async function runSqlFile(url: string, file: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  const notices: string[] = [];
  client.on('notice', (notice) => notices.push(notice.message ?? ''));
  await client.connect();
  try {
    await client.query(await readFile(path.join(ROOT, file), 'utf8'));
  } finally {
    await client.end();
  }
  return notices;
}

async function main(): Promise<number> {
  await mkdir(OUT, { recursive: true });
  const cluster = await openCluster({
    databaseUrl: process.env.DATABASE_URL,
    dataDir: path.join(ROOT, '.carebook', 'dry-run'),
  });
  const name = uniqueDatabaseName('carebook_dryrun');
  let exitCode = 0;
  try {
    say(`dry-run on ${cluster.embedded ? 'embedded PostgreSQL' : 'DATABASE_URL server'}, database ${name}`);
    const url = await cluster.createDatabase(name);
    const options = { databaseUrl: url, log: (line: string) => log.push(line) };
    await step('lint migrations (squawk)', lintMigrations);
    await step('verify files and manifest', async () => {
      const status = await migrationStatus(options);
      if (status.problems.length) throw new Error(status.problems.map((p) => p.message).join('; '));
      return `${status.files.length} files`;
    });
    await step('apply all migrations', async () => `${(await migrateUp(options)).length} applied`);
    await step('smoke tests', async () =>
      (await runSqlFile(url, 'docs/migrations/smoke_tests.sql')).join(' '),
    );
    await step('RLS probes', async () => (await runSqlFile(url, 'docs/migrations/rls_probes.sql')).join(' '));
    await step('down to zero', async () => {
      const reverted = await migrateDown({ ...options, to: 0 });
      const left = await snapshotTables(url);
      if (left.length) throw new Error(`objects left after down to 0: ${left.join(', ')}`);
      return `${reverted.length} reverted`;
    });
    await step('up again', async () => `${(await migrateUp(options)).length} applied`);
    await step('schema matches schema/baseline.sql', async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const live = await snapshotSchema(client).finally(() => client.end());
      await writeFile(path.join(OUT, 'schema.sql'), live);
      const baseline = await readFile(path.join(ROOT, 'schema', 'baseline.sql'), 'utf8').catch(() => '');
      const diff = diffSnapshots(baseline, live);
      if (diff) {
        throw new Error(
          `the migrated schema differs from the approved baseline:\n${diff}\nIf the change is intended, run \`npm run db:baseline\` and commit schema/baseline.sql.`,
        );
      }
      return 'no difference';
    });
    say('dry-run passed');
  } catch {
    exitCode = 1;
    say('dry-run failed');
  } finally {
    await cluster.dropDatabase(name).catch(() => {});
    await cluster.close();
    await writeFile(path.join(OUT, 'dry-run.log'), `${log.join('\n')}\n`);
  }
  return exitCode;
}

/** Tables and functions left in the application schemas (extensions' own objects excluded). */
async function snapshotTables(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query<{ name: string }>(
      `SELECT n.nspname || '.' || c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('public', 'audit') AND c.relkind IN ('r', 'v', 'm', 'S')
       UNION ALL
       SELECT n.nspname || '.' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname IN ('public', 'audit')
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')`,
    );
    return result.rows.map((row) => row.name);
  } finally {
    await client.end();
  }
}

process.exit(await main());
