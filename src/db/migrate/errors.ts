// The migration runner's error, apart from the runner: the CLI's error report tells it apart
// without loading node-pg-migrate and pg, which `carebook --help` never needs.
import type { Problem } from './files.js';

export class MigrationError extends Error {
  constructor(
    message: string,
    readonly problems: Problem[] = [],
  ) {
    super(message);
    this.name = 'MigrationError';
  }
}
