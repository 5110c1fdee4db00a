// The configuration's error, apart from the configuration: the CLI's error report tells it apart
// without loading every provider module, which `carebook --help` never needs.
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}
