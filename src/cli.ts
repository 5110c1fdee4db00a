#!/usr/bin/env node
// carebook — one CLI for every process role. `carebook help` lists the commands.
import { ConfigError } from './config.js';
import { MigrationError } from './db/migrate/runner.js';

const COMMANDS: Record<
  string,
  { summary: string; load: () => Promise<{ run(args: string[]): Promise<number> }> }
> = {
  dev: {
    summary: 'embedded database (unless DATABASE_URL), migrations, demo data, API',
    load: () => import('./cli/serve.js').then((m) => ({ run: m.runDev })),
  },
  serve: { summary: 'the HTTP API', load: () => import('./cli/serve.js').then((m) => ({ run: m.runServe })) },
  migrate: {
    summary: 'migrate up|down [--to N]|status|verify|manifest',
    load: () => import('./cli/migrate.js'),
  },
  worker: {
    summary: 'the webhook worker and hold sweeper (--drain: handle what is due, then exit)',
    load: () => import('./cli/worker.js'),
  },
  replay: {
    summary: 'replay dead-letter webhook events (--reason required; audited)',
    load: () => import('./cli/replay.js'),
  },
  status: {
    summary: 'migrations, webhook queue, dead letters, stuck leases, overdue holds (--json)',
    load: () => import('./cli/ops.js').then((m) => ({ run: m.runStatus })),
  },
  sweep: {
    summary: 'expire lapsed holds and purge old idempotency records, once',
    load: () => import('./cli/ops.js').then((m) => ({ run: m.runSweep })),
  },
  token: {
    summary: 'print a development bearer token (--role, --clinic-id, --patient-id)',
    load: () => import('./cli/token.js'),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  return [
    'usage: carebook <command> [options]',
    '',
    ...Object.entries(COMMANDS).map(([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`),
    '',
    'Configuration comes from the environment; see the README.',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    console.log(usage());
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`carebook: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  return (await command.load()).run(args);
}

/** Errors end as one readable line (plus a list where there is one), never as a stack trace. */
function report(error: unknown): number {
  if (error instanceof ConfigError) {
    console.error(
      error.problems.length === 1
        ? `carebook: ${error.message}`
        : `carebook: invalid configuration:\n${error.problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    return 2;
  }
  if (error instanceof MigrationError) {
    console.error(
      `carebook: ${error.message}${error.problems.map((p) => `\n  - [${p.code}] ${p.message}`).join('')}`,
    );
    return 1;
  }
  const message = error instanceof Error ? error.message : String(error);
  console.error(`carebook: ${message}`);
  if (process.env.LOG_LEVEL === 'debug' || process.env.LOG_LEVEL === 'trace') console.error(error);
  return 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => process.exit(report(error)),
);
