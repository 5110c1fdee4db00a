// carebook migrate up|down|status|verify|manifest
import { loadConfig } from '../config.js';
import { openDatabase } from '../db/database.js';
import { writeManifest } from '../db/migrate/files.js';
import { MigrationError, migrateDown, migrateUp, migrationStatus } from '../db/migrate/runner.js';
import { command, integer, parse, subcommand } from './command.js';

function migrateCommand() {
  const migrate = command('migrate', 'apply, revert, list or verify the migrations in migrations/');
  const version = integer(0, 99_999, '--to 9');
  subcommand(migrate, 'up', 'apply pending migrations')
    .option('--to <N>', 'apply those up to version N only (the number a file name starts with)', version)
    .option('--demo-data', "load 00010's demo clinics, people and slots");
  subcommand(migrate, 'down', 'revert the last migration').option(
    '--to <N>',
    'revert every migration above version N instead (--to 0 reverts all)',
    version,
  );
  subcommand(migrate, 'status', 'list migrations, applied or pending, with their checksum state');
  subcommand(
    migrate,
    'verify',
    'exit 1 when a file is unlisted, renamed, out of sequence or changed since applied',
  );
  subcommand(migrate, 'manifest', 'rewrite migrations/manifest.json from the files (review the diff!)');
  return migrate;
}

export async function run(args: string[]): Promise<number> {
  const { name: action, options } = parse<{ to?: number; demoData?: boolean }>(migrateCommand(), args);
  if (action === 'manifest') {
    const manifest = await writeManifest();
    console.log(`migrations/manifest.json: ${manifest.migrations.length} migrations`);
    return 0;
  }
  const { to } = options;

  const config = loadConfig();
  const database = await openDatabase(config);
  try {
    const migrateOptions = {
      databaseUrl: database.ownerUrl,
      pooling: config.database.pooling,
      log: (line: string) => console.log(line),
    };
    switch (action) {
      case 'up': {
        const applied = await migrateUp({ ...migrateOptions, to, demoData: options.demoData ?? false });
        console.log(applied.length ? `applied ${applied.length}: ${applied.join(', ')}` : 'nothing to apply');
        return 0;
      }
      case 'down': {
        const reverted = await migrateDown({ ...migrateOptions, to });
        console.log(
          reverted.length ? `reverted ${reverted.length}: ${reverted.join(', ')}` : 'nothing to revert',
        );
        return 0;
      }
      case 'status': {
        const status = await migrationStatus(migrateOptions);
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
        const status = await migrationStatus(migrateOptions);
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
