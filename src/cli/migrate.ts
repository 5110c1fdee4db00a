// carebook migrate up|down|status|verify|manifest
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { openDatabase } from '../db/database.js';
import { writeManifest } from '../db/migrate/files.js';
import { MigrationError, migrateDown, migrateUp, migrationStatus } from '../db/migrate/runner.js';

const USAGE = `usage: carebook migrate <up|down|status|verify|manifest> [--to N] [--demo-data]
  up        apply pending migrations (all, or up to version N)
  down      revert the last migration (or every one above version N; --to 0 reverts all)
  status    list migrations, applied or pending, with their checksum state
  verify    exit 1 when a file is unlisted, renamed, out of sequence or changed since applied
  manifest  rewrite migrations/manifest.json from the files (review the diff!)`;

export async function run(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: { to: { type: 'string' }, 'demo-data': { type: 'boolean', default: false } },
  });
  const action = positionals[0];
  if (action === 'manifest') {
    const manifest = await writeManifest();
    console.log(`migrations/manifest.json: ${manifest.migrations.length} migrations`);
    return 0;
  }
  if (!action || !['up', 'down', 'status', 'verify'].includes(action)) {
    console.error(USAGE);
    return 2;
  }
  const to = values.to === undefined ? undefined : Number(values.to);
  if (to !== undefined && (!Number.isInteger(to) || to < 0)) {
    console.error('carebook: --to takes a migration version, e.g. --to 9 (or 0 for none)');
    return 2;
  }

  const config = loadConfig();
  const database = await openDatabase(config);
  try {
    const options = { databaseUrl: database.url, log: (line: string) => console.log(line) };
    switch (action) {
      case 'up': {
        const applied = await migrateUp({ ...options, to, demoData: values['demo-data'] });
        console.log(applied.length ? `applied ${applied.length}: ${applied.join(', ')}` : 'nothing to apply');
        return 0;
      }
      case 'down': {
        const reverted = await migrateDown({ ...options, to });
        console.log(
          reverted.length ? `reverted ${reverted.length}: ${reverted.join(', ')}` : 'nothing to revert',
        );
        return 0;
      }
      case 'status': {
        const status = await migrationStatus(options);
        const applied = new Map(status.applied.map((migration) => [migration.name, migration]));
        for (const file of status.files) {
          const migration = applied.get(file.name);
          const state = !migration
            ? 'pending'
            : migration.sha256 === file.sha256
              ? 'applied'
              : 'applied, CHANGED';
          console.log(
            `${file.name.padEnd(44)} ${state}${migration ? `  ${migration.runOn.toISOString()}` : ''}`,
          );
        }
        for (const problem of status.problems) console.log(`problem [${problem.code}] ${problem.message}`);
        return 0;
      }
      default: {
        const status = await migrationStatus(options);
        if (status.problems.length > 0) throw new MigrationError('verify failed', status.problems);
        console.log(
          `verified: ${status.files.length} files, ${status.applied.length} applied, ${status.pending.length} pending`,
        );
        return 0;
      }
    }
  } finally {
    await database.close();
  }
}
