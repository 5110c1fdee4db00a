// Benchmark knobs from the environment, checked once: a bad value stops the run with a message
// that says what would be accepted, before any database is created.

export function wholeNumberFromEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name]?.trim() || String(fallback);
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    console.error(`${name}=${JSON.stringify(raw)} is not a whole number from ${min} to ${max}`);
    process.exit(2);
  }
  return value;
}

/** Which of the `allowed` one-character choices the variable names (all of them when unset). */
export function choicesFromEnv(name: string, allowed: string): Set<string> {
  const raw = process.env[name]?.trim() || allowed;
  if (![...raw].every((choice) => allowed.includes(choice))) {
    console.error(
      `${name}=${JSON.stringify(raw)} may only name some of ${[...allowed].join(', ')} (e.g. ${name}=${allowed[0]})`,
    );
    process.exit(2);
  }
  return new Set(raw);
}
