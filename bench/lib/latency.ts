// Latency samples of one measurement and their percentiles. Every sample is kept (a 5 s run at a
// few thousand requests per second is tens of thousands of numbers): exact percentiles, no
// histogram bucket error to argue about when two figures are compared side by side.

export class LatencyRecorder {
  private samples: number[] = [];
  private sorted = true;

  /** Records one duration in milliseconds. */
  record(ms: number): void {
    this.samples.push(ms);
    this.sorted = false;
  }

  /** Records the time since `startedNs` (a process.hrtime.bigint() reading). */
  since(startedNs: bigint): void {
    this.record(Number(process.hrtime.bigint() - startedNs) / 1e6);
  }

  get count(): number {
    return this.samples.length;
  }

  /** Nearest-rank percentile, p in [0, 100]; NaN when there are no samples. */
  percentile(p: number): number {
    if (this.samples.length === 0) return Number.NaN;
    if (!this.sorted) {
      this.samples.sort((a, b) => a - b);
      this.sorted = true;
    }
    const rank = Math.ceil((p / 100) * this.samples.length);
    return this.samples[Math.min(this.samples.length, Math.max(1, rank)) - 1] as number;
  }
}

/** The median of a few numbers (e.g. repeated race timings). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}
