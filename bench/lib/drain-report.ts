// The printed report of the two drains of npm run bench:webhooks: per part, one table of every run
// (Carebook's configurations, then graphile-worker's best at each concurrency), the
// graphile-worker settings tried, and a line per target ("met" / "not met"). Only prints; it
// judges nothing but the targets.
import { microsPerItem } from './cpu.js';
import type { DrainResult } from './drain.js';
import { type GraphileSettings, graphileLabel } from './graphile-drain.js';
import { fixed, formatTable } from './table.js';

export interface CarebookRow {
  label: string;
  /** Compared with graphile-worker at this concurrency (loops, or calls in flight). */
  at: number;
  /** A row of the variant the targets are judged on. */
  headline: boolean;
  result: DrainResult;
}

export interface GraphileTrial {
  settings: GraphileSettings;
  result: DrainResult;
}

export interface GraphileSeries {
  /** The concurrency the settings were tried at. */
  trialConcurrency: number;
  trials: GraphileTrial[];
  best: GraphileTrial;
  /** The best settings' run at each concurrency. */
  at: Map<number, DrainResult>;
}

export interface DrainReport {
  /** The paragraph that says what was measured and how. */
  description: string;
  /** What `at` counts: "loops" or "in flight". */
  concurrency: string;
  carebook: CarebookRow[];
  graphile: GraphileSeries;
  /** Ratios to graphile-worker the headline rows are held to: the target, and a longer-term goal. */
  target: number;
  goal: number | null;
  /** Runs had a helper thread (the endpoint), whose CPU gets a column of its own. */
  helper: boolean;
}

const itemsCell = (result: DrainResult) => `${result.items}${result.capped ? ' (cap)' : ''}`;
const fastest = <T>(rows: readonly T[], rate: (row: T) => number) =>
  rows.reduce<T | undefined>((a, b) => (a === undefined || rate(b) > rate(a) ? b : a), undefined);

/** The CPU columns: Node (without the helper thread), the helper, PostgreSQL's backends, the machine. */
function cpuCells(result: DrainResult, helper: boolean): string[] {
  const { cpu, items, helperMs } = result;
  const per = (ms: number | null) => fixed(microsPerItem(ms, items));
  const node = per(cpu.processMs - (helperMs ?? 0));
  return [node, ...(helper ? [per(helperMs)] : []), per(cpu.databaseMs), per(cpu.machineMs)];
}

export function printDrainReport(report: DrainReport): void {
  console.log(report.description);
  const row = (label: string, at: number, result: DrainResult, versus: DrainResult | undefined) => [
    label,
    String(at),
    itemsCell(result),
    fixed(result.elapsedMs / 1000, 2),
    fixed(result.rate),
    ...cpuCells(result, report.helper),
    versus ? `${fixed(result.rate / versus.rate, 2)}×` : '—',
  ];
  const rows = report.carebook.map((run) =>
    row(run.label, run.at, run.result, report.graphile.at.get(run.at)),
  );
  for (const [at, result] of [...report.graphile.at.entries()].sort((a, b) => a[0] - b[0])) {
    rows.push(row(`graphile-worker, concurrency ${at}`, at, result, result));
  }
  const cpuHeaders = report.helper
    ? ['CPU µs/item: Node (drainer)', 'endpoint', 'PostgreSQL', 'machine']
    : ['CPU µs/item: Node', 'PostgreSQL', 'machine'];
  console.log(
    formatTable(
      ['drainer', report.concurrency, 'items', 'seconds', 'items/s', ...cpuHeaders, 'vs graphile'],
      rows,
    ),
  );
  console.log('');
  const { graphile } = report;
  console.log(
    `graphile-worker settings tried at concurrency ${graphile.trialConcurrency}, N jobs each (its docs' ` +
      'batching options; the fastest is used at every concurrency):',
  );
  console.log(
    formatTable(
      ['localQueue.size', 'completeJobBatchDelay', 'failJobBatchDelay', 'jobs/s', ''],
      graphile.trials.map((trial) => [
        String(trial.settings.localQueueSize),
        `${trial.settings.completeJobBatchDelay} ms`,
        `${trial.settings.failJobBatchDelay} ms`,
        `${fixed(trial.result.rate)}${trial.result.capped ? ' (cap)' : ''}`,
        trial === graphile.best ? 'best' : '',
      ]),
    ),
  );
  console.log(`(best: ${graphileLabel(graphile.best.settings)})`);
  printTargets(report);
}

function printTargets(report: DrainReport): void {
  const headline = report.carebook.filter((run) => run.headline);
  const judge = (ratio: number) => {
    const goal =
      report.goal === null
        ? ''
        : `; goal ${fixed(report.goal, 1)}×: ${ratio >= report.goal ? 'met' : 'not met'}`;
    return `${ratio >= report.target ? 'met' : 'not met'} (${fixed(ratio, 2)}×)${goal}`;
  };
  for (const [at, theirs] of [...report.graphile.at.entries()].sort((a, b) => a[0] - b[0])) {
    const ours = fastest(
      headline.filter((run) => run.at === at),
      (run) => run.result.rate,
    );
    if (!ours) continue;
    console.log(
      `target Carebook ≥ ${fixed(report.target, 1)}× graphile-worker at ${at} ${report.concurrency} ` +
        `(${ours.label}): ${judge(ours.result.rate / theirs.rate)}`,
    );
  }
  const ours = fastest(headline, (run) => run.result.rate);
  const theirs = fastest([...report.graphile.at.values()], (result) => result.rate);
  if (!ours || !theirs) return;
  console.log(
    `target Carebook ≥ ${fixed(report.target, 1)}× graphile-worker, fastest against fastest (${ours.label}): ` +
      judge(ours.result.rate / theirs.rate),
  );
}
