// A plain-text table for benchmark output: right-aligned columns so figures line up for the eye,
// and nothing but spaces and pipes so the output pastes into an issue or a commit message as is.

export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells.map((cell, column) => cell.padStart(widths[column] ?? 0)).join(' | ');
  return [line(headers), widths.map((width) => '-'.repeat(width)).join('-|-'), ...rows.map(line)].join('\n');
}

/** A number with a fixed number of decimals, or '—' when there is no figure. */
export function fixed(value: number | null | undefined, digits = 0): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '—' : value.toFixed(digits);
}

/** A ratio as a whole percentage, or '—'. */
export function percent(numerator: number | null, denominator: number | null): string {
  if (numerator === null || denominator === null || denominator === 0) return '—';
  return `${Math.round((numerator / denominator) * 100)} %`;
}
