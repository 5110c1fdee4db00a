// The carebook command line: the list of commands and the top level that dispatches to them.
//
// A command is a module in src/cli/ exporting `run(args: string[]): Promise<number>` (the exit
// code), which declares its options with command() from ./command.ts and reads them with parse().
// Adding one: write the module, add a line to COMMANDS. Modules load only when their command runs,
// so `--help` and `token` stay quick.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';

type CommandModule = { run(args: string[]): Promise<number> };

const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  dev: {
    summary:
      'what `npm start` runs: embedded database (unless DATABASE_URL), migrations, demo data, API, worker',
    load: () => import('./serve.js').then((m) => ({ run: m.runDev })),
  },
  serve: { summary: 'the HTTP API', load: () => import('./serve.js').then((m) => ({ run: m.runServe })) },
  worker: {
    summary: 'the queue worker (webhook events, outbound calls to providers) and hold sweeper',
    load: () => import('./worker.js'),
  },
  migrate: { summary: 'apply, revert, list or verify migrations', load: () => import('./migrate.js') },
  status: {
    summary: 'migrations, webhook queue, dead letters, stuck leases, overdue holds',
    load: () => import('./ops.js').then((m) => ({ run: m.runStatus })),
  },
  sweep: {
    summary: 'expire lapsed holds and purge old idempotency records, once',
    load: () => import('./ops.js').then((m) => ({ run: m.runSweep })),
  },
  replay: { summary: 'replay dead-letter webhook events (audited)', load: () => import('./replay.js') },
  'check-secrets': {
    summary: 'sign one effect-free webhook per configured provider secret and POST it to a running Carebook',
    load: () => import('./check-secrets.js'),
  },
  slots: {
    summary: 'regenerate slots from schedules now (slots generate)',
    load: () => import('./slots.js'),
  },
  token: { summary: 'print a development bearer token', load: () => import('./token.js') },
};

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** The top level: each command is a stub that hands its arguments to the module's own parser. */
function program(run: (name: string, args: string[]) => void): Command {
  const top = new Command('carebook')
    .description(
      'Booking and integrations backend. Configuration comes from the environment (see the README).',
    )
    .version(version, '-v, --version', 'print the version')
    .helpOption('-h, --help', 'this list; `carebook <command> --help` for a command')
    .exitOverride()
    .showSuggestionAfterError()
    .enablePositionalOptions()
    .helpCommand(false);
  for (const [name, { summary }] of Object.entries(COMMANDS)) {
    top
      .command(name)
      .summary(summary)
      .helpOption(false)
      .allowUnknownOption()
      .allowExcessArguments()
      .passThroughOptions()
      .action((_options: unknown, stub: Command) => run(name, stub.args));
  }
  top
    .command('help')
    .summary('the same as --help; `carebook help <command>` for a command')
    .argument('[command]')
    .action((name?: string) => (name ? run(name, ['--help']) : top.help()));
  return top;
}

/** Runs `carebook <argv>` and resolves with its exit code; throws what report() turns into one. */
export async function main(argv: string[]): Promise<number> {
  const chosen: { name?: string; args: string[] } = { args: [] };
  const top = program((name, args) => Object.assign(chosen, { name, args }));
  if (argv.length === 0) {
    top.outputHelp({ error: true });
    return 2;
  }
  top.parse(argv, { from: 'user' });
  const command = chosen.name === undefined ? undefined : COMMANDS[chosen.name];
  if (!command) return top.error(`error: unknown command '${chosen.name}'`, { exitCode: 2 });
  return (await command.load()).run(chosen.args);
}
