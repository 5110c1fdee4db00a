// How a failed command ends: one readable line (plus a list where there is one), never a stack
// trace, and a consistent exit code: 0 after --help or --version, 1 for a failure, 2 for a usage
// or configuration error.
import { CommanderError } from 'commander';
import { ConfigError } from '../config-error.js';
import { MigrationError } from '../db/migrate/errors.js';

export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

// SQLSTATEs that mean the schema this code expects is not there (yet).
const NOT_MIGRATED = new Set([
  '42883', // undefined_function
  '42P01', // undefined_table
  '42704', // undefined_object: role "carebook_admin" does not exist
  '3F000', // invalid_schema_name
]);

/** Prints what went wrong and returns the exit code. `command` is what ran (e.g. `status`). */
export function report(error: unknown, command: string | undefined): number {
  if (error instanceof CommanderError) {
    // commander has printed the help, the version or the error (with a suggestion) already.
    return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (error instanceof ConfigError) {
    console.error(
      error.problems.length === 1
        ? `carebook: ${error.message}`
        : `carebook: invalid configuration:\n${error.problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    return EXIT.usage;
  }
  if (error instanceof MigrationError) {
    console.error(
      `carebook: ${error.message}${error.problems.map((p) => `\n  - [${p.code}] ${p.message}`).join('')}`,
    );
    return EXIT.failure;
  }
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  const hint =
    typeof code === 'string' && NOT_MIGRATED.has(code) && command !== 'migrate'
      ? ` (${code}): the database is not migrated, or is behind this code; run \`carebook migrate up\``
      : '';
  console.error(`carebook: ${message}${hint}`);
  if (process.env.LOG_LEVEL === 'debug' || process.env.LOG_LEVEL === 'trace') console.error(error);
  return EXIT.failure;
}
