#!/usr/bin/env node
// carebook — one CLI for every process role. `carebook --help` lists the commands; they are
// defined in src/cli/program.ts.
import { exitOnSignal } from './cli/lifecycle.js';
import { main } from './cli/program.js';
import { report } from './cli/report.js';

const argv = process.argv.slice(2);
exitOnSignal();
main(argv).then(
  (code) => process.exit(code),
  (error: unknown) => process.exit(report(error, argv[0])),
);
