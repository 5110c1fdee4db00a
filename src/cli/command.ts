// How every `carebook` command reads its arguments: a commander Command, set up once here so that
// each command module only declares its options. Help and usage errors are thrown (exitOverride)
// and become exit codes in report.ts: 0 for --help, 2 for a usage error, with a "did you mean"
// for mistyped options and commands.
import { Command, InvalidArgumentError } from 'commander';
import { isUuid } from '../db/tenant.js';

export { InvalidArgumentError, Option } from 'commander';

/** A command `carebook <name>` with the shared settings. */
export function command(name: string, description: string): Command {
  const child = configure(new Command(name), name).description(description);
  new Command('carebook').addCommand(child); // so that its help says `Usage: carebook <name> …`
  return child;
}

/** A subcommand (`carebook migrate up`) with the same settings. */
export function subcommand(parent: Command, name: string, description: string): Command {
  const child = configure(new Command(name), `${parent.name()} ${name}`).description(description);
  parent.addCommand(child);
  return child;
}

function configure(command: Command, path: string): Command {
  return command
    .exitOverride()
    .showSuggestionAfterError()
    .showHelpAfterError(`(carebook ${path} --help lists what it takes)`)
    .configureHelp({ sortOptions: false })
    .allowExcessArguments(false);
}

export interface Parsed<Options> {
  /** The name of the (sub)command that matched. */
  name: string;
  options: Options;
  operands: string[];
}

/** Parses `args` with `root` (and its subcommands); throws commander's error on --help or misuse. */
export function parse<Options>(root: Command, args: string[]): Parsed<Options> {
  let matched: Command = root;
  const leaves = (command: Command): Command[] =>
    command.commands.length > 0 ? command.commands.flatMap(leaves) : [command];
  for (const leaf of leaves(root)) {
    leaf.action(function (this: Command) {
      matched = this;
    });
  }
  root.parse(args, { from: 'user' });
  return { name: matched.name(), options: matched.opts() as Options, operands: matched.args };
}

/** A usage error found after parsing (a combination of options): exit 2 with the command's hint. */
export function usageError(command: Command, message: string): never {
  return command.error(`error: ${message}`, { exitCode: 2, code: 'carebook.usage' });
}

// Option parsers: each rejects a bad value with a message that shows a good one.

export function integer(min: number, max: number, example: string) {
  return (raw: string): number => {
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw.trim()) || value < min || value > max) {
      throw new InvalidArgumentError(`Expected a whole number from ${min} to ${max}, e.g. ${example}.`);
    }
    return value;
  };
}

export function uuid(raw: string): string {
  if (!isUuid(raw))
    throw new InvalidArgumentError('Expected a uuid, e.g. 11111111-1111-4111-8111-111111111111.');
  return raw;
}

/** A duration such as 30m, 12h or 7d, in the form jose's expiresIn takes. */
export function duration(raw: string): string {
  if (!/^[1-9]\d*[smhd]$/.test(raw)) {
    throw new InvalidArgumentError('Expected a duration: a number and s, m, h or d, e.g. 30m, 12h or 7d.');
  }
  return raw;
}

/** Every value of a repeatable option (`--id A --id B`). */
export function collect<T>(parseOne: (raw: string) => T) {
  return (raw: string, previous: T[] = []): T[] => [...previous, parseOne(raw)];
}
