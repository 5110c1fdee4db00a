// The soak's verdict (npm run soak), from its samples: research/reliability_testing.md §4.10's pass
// conditions on memory and connections — never on timing.
//   * heap after forced GC flat: least-squares slope under 1 MB/min, the last sample within 10 %
//     of the median;
//   * database connections never above the pool's maximum;
//   * no request error, no non-2xx answer, no error logged by the server;
//   * open handles back to where they were before the load once it stops.

export interface SoakSample {
  /** Seconds since the soak started. */
  at: number;
  heapUsedBytes: number;
  rssBytes: number;
  databaseConnections: number;
  handles: number;
  requests: number;
}

export interface SoakTotals {
  requests: number;
  errors: number;
  non2xx: number;
  /** Server log lines at level error or fatal. */
  serverErrors: number;
}

export interface SoakLimits {
  poolMax: number;
  /** Handles before the load started. */
  baselineHandles: number;
  /** Handles after the load stopped and its connections closed. */
  finalHandles: number;
}

export const MAX_HEAP_SLOPE_MB_PER_MINUTE = 1;
export const MAX_FINAL_HEAP_ABOVE_MEDIAN = 0.1;
/** A timer or socket of the process's own may come or go (the pool's idle timer, a log flush). */
const HANDLE_SLACK = 3;

const MB = 1024 * 1024;

/** Least-squares slope of the heap, in MB per minute. */
export function heapSlopeMbPerMinute(samples: readonly SoakSample[]): number {
  if (samples.length < 2) return 0;
  const xs = samples.map((s) => s.at / 60);
  const ys = samples.map((s) => s.heapUsedBytes / MB);
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  const mx = mean(xs);
  const my = mean(ys);
  let numerator = 0;
  let denominator = 0;
  for (let i = 0; i < xs.length; i++) {
    numerator += ((xs[i] as number) - mx) * ((ys[i] as number) - my);
    denominator += ((xs[i] as number) - mx) ** 2;
  }
  return denominator === 0 ? 0 : numerator / denominator;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** What failed (empty: the soak passed). */
export function soakFailures(
  samples: readonly SoakSample[],
  totals: SoakTotals,
  limits: SoakLimits,
): string[] {
  const failures: string[] = [];
  if (samples.length < 3)
    failures.push(`only ${samples.length} samples: run longer than two sample intervals`);
  const slope = heapSlopeMbPerMinute(samples);
  if (slope >= MAX_HEAP_SLOPE_MB_PER_MINUTE) {
    failures.push(`heap grows ${slope.toFixed(2)} MB/min (limit ${MAX_HEAP_SLOPE_MB_PER_MINUTE})`);
  }
  const last = samples.at(-1);
  const middle = median(samples.map((s) => s.heapUsedBytes));
  if (last && last.heapUsedBytes > middle * (1 + MAX_FINAL_HEAP_ABOVE_MEDIAN)) {
    failures.push(
      `the last heap sample (${(last.heapUsedBytes / MB).toFixed(1)} MB) is over ${MAX_FINAL_HEAP_ABOVE_MEDIAN * 100} % above the median (${(middle / MB).toFixed(1)} MB)`,
    );
  }
  const connections = Math.max(0, ...samples.map((s) => s.databaseConnections));
  if (connections > limits.poolMax) {
    failures.push(`${connections} database connections, more than the pool's ${limits.poolMax}`);
  }
  if (totals.requests === 0) failures.push('no request was answered');
  if (totals.errors > 0) failures.push(`${totals.errors} request errors (timeouts, resets)`);
  if (totals.non2xx > 0) failures.push(`${totals.non2xx} answers were not 2xx`);
  if (totals.serverErrors > 0) failures.push(`the server logged ${totals.serverErrors} errors`);
  if (limits.finalHandles > limits.baselineHandles + HANDLE_SLACK) {
    failures.push(`${limits.finalHandles} open handles after the load, ${limits.baselineHandles} before it`);
  }
  return failures;
}
