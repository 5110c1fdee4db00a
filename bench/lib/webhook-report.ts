// The printed report of npm run bench:webhooks: one table per part, the settings tried, a line per
// target ("met" / "not met"), and where the CPU went. Only prints; it judges nothing but the targets.
import type { CpuSpent } from './cpu.js';
import { fixed, formatTable, percent } from './table.js';
import type { DrainResult, GraphileSettings } from './webhook-drain.js';
import type { IngestRun } from './webhook-ingest.js';

export interface CarebookRun {
  label: string;
  loops: number;
  /** One worker instance at batch 50: the configuration the targets are judged on. */
  standard: boolean;
  result: DrainResult;
}

export interface GraphileTrial {
  settings: GraphileSettings;
  result: DrainResult;
}

export interface DrainReport {
  poolMax: number;
  capSeconds: number;
  carebook: CarebookRun[];
  /** The best settings' run at each concurrency. */
  graphile: Map<number, DrainResult>;
  trials: GraphileTrial[];
  trialConcurrency: number;
  best: GraphileTrial;
}

export interface IngestPoint {
  clients: number;
  app: IngestRun;
  bare: IngestRun;
}

export interface IngestReport {
  seconds: number;
  warmupSeconds: number;
  poolMax: number;
  points: IngestPoint[];
  stored: number;
  allFound: boolean;
}

export const graphileLabel = (s: GraphileSettings) =>
  `localQueue.size ${s.localQueueSize}, completeJobBatchDelay ${s.completeJobBatchDelay} ms, ` +
  `failJobBatchDelay ${s.failJobBatchDelay} ms`;

/** µs of CPU per item: this process (Node), the measured PostgreSQL backends, the whole machine. */
function cpuPerItem(cpu: CpuSpent, items: number): [string, string, string] {
  const per = (ms: number | null) => (ms === null || items === 0 ? null : (ms * 1000) / items);
  return [fixed(per(cpu.processMs)), fixed(per(cpu.databaseMs)), fixed(per(cpu.machineMs))];
}

const itemsCell = (result: DrainResult) => `${result.items}${result.capped ? ' (cap)' : ''}`;

export function printDrainReport(report: DrainReport): void {
  console.log(
    `1. Drain N pending no-op items, same payload (a ~200-byte Stripe event) and database, each side with ` +
      `a pool of ${report.poolMax} connections opened before the clock starts; clock from the first claim ` +
      `to the last commit (a run stops at ${report.capSeconds} s: "(cap)"). Carebook: WebhookWorker.runOnce ` +
      `loops, every event settled success after one attempt in its batch's transaction (effect and status ` +
      `commit together). graphile-worker: run() in its batched configuration, every job run once, then ` +
      `deleted by a batched completion (a transaction of its own, after the task).`,
  );
  const rows = report.carebook.map((run) => {
    const versus = report.graphile.get(run.loops);
    return [
      run.label,
      String(run.loops),
      itemsCell(run.result),
      fixed(run.result.elapsedMs / 1000, 2),
      fixed(run.result.rate),
      ...cpuPerItem(run.result.cpu, run.result.items),
      versus ? `${fixed(run.result.rate / versus.rate, 2)}×` : '—',
    ];
  });
  for (const [loops, result] of [...report.graphile.entries()].sort((a, b) => a[0] - b[0])) {
    rows.push([
      `graphile-worker, concurrency ${loops}`,
      String(loops),
      itemsCell(result),
      fixed(result.elapsedMs / 1000, 2),
      fixed(result.rate),
      ...cpuPerItem(result.cpu, result.items),
      '1.00×',
    ]);
  }
  console.log(
    formatTable(
      [
        'drainer',
        'loops',
        'items',
        'seconds',
        'items/s',
        'CPU µs/item: Node',
        'PostgreSQL',
        'machine',
        'vs graphile',
      ],
      rows,
    ),
  );
  console.log('');
  console.log(
    `graphile-worker settings tried at concurrency ${report.trialConcurrency}, N jobs each (its docs' ` +
      'batching options; the fastest is used at every concurrency):',
  );
  console.log(
    formatTable(
      ['localQueue.size', 'completeJobBatchDelay', 'failJobBatchDelay', 'jobs/s', ''],
      report.trials.map((trial) => [
        String(trial.settings.localQueueSize),
        `${trial.settings.completeJobBatchDelay} ms`,
        `${trial.settings.failJobBatchDelay} ms`,
        fixed(trial.result.rate),
        trial === report.best ? 'best' : '',
      ]),
    ),
  );
  for (const run of report.carebook.filter((r) => r.standard)) {
    const theirs = report.graphile.get(run.loops);
    if (!theirs) continue;
    const ratio = run.result.rate / theirs.rate;
    console.log(
      `target worker ≥ 2× graphile-worker at ${run.loops} loops: ${ratio >= 2 ? 'met' : 'not met'} (${fixed(ratio, 2)}×)`,
    );
  }
  const ours = report.carebook.reduce((a, b) => (b.result.rate > a.result.rate ? b : a));
  const theirs = [...report.graphile.values()].reduce((a, b) => (b.rate > a.rate ? b : a));
  const ratio = ours.result.rate / theirs.rate;
  console.log(
    `target worker ≥ 2× graphile-worker, fastest against fastest (${ours.label}): ` +
      `${ratio >= 2 ? 'met' : 'not met'} (${fixed(ratio, 2)}×)`,
  );
}

export function printIngestReport(report: IngestReport): void {
  console.log(
    `2. Ingestion: POST /webhooks/stripe, a signed ~1 KB event with a fresh id per request, closed loops, ` +
      `${report.seconds} s per point after ${report.warmupSeconds} s warm-up, bare first; servers in worker ` +
      `threads, pools of ${report.poolMax}. App: verify Stripe-Signature, then one statement (role and ` +
      'settings, ingest_webhook_events: INSERT … ON CONFLICT DO NOTHING, NOTIFY). Bare: JSON.parse, the ' +
      'same INSERT as the login user, no verification.',
  );
  const { points } = report;
  const p99 = (run: IngestRun) => run.result.latency.percentile(99);
  console.log(
    formatTable(
      ['clients', 'app req/s', 'p50 ms', 'p99 ms', 'bare req/s', 'p50 ms', 'p99 ms', 'app/bare'],
      points.map((p) => [
        String(p.clients),
        fixed(p.app.result.rate),
        fixed(p.app.result.latency.percentile(50), 2),
        fixed(p99(p.app), 2),
        fixed(p.bare.result.rate),
        fixed(p.bare.result.latency.percentile(50), 2),
        fixed(p99(p.bare), 2),
        percent(p.app.result.rate, p.bare.result.rate),
      ]),
    ),
  );
  for (const p of points) {
    const ratioMet = p.app.result.rate >= 0.8 * p.bare.result.rate;
    console.log(
      `target ingestion ≥ 80 % of bare at ${p.clients} clients: ${ratioMet ? 'met' : 'not met'} ` +
        `(${percent(p.app.result.rate, p.bare.result.rate)}); p99 < 50 ms: ` +
        `${p99(p.app) < 50 ? 'met' : 'not met'} (${fixed(p99(p.app), 2)} ms)`,
    );
  }
  console.log(
    `deliveries: ${report.stored} answered 200 and stored (warm-ups included), every one found in ` +
      `webhook_events: ${report.allFound ? 'yes' : 'NO'}`,
  );
  console.log(
    'CPU µs per request while measuring: Node (the client loops and the server thread together), the ' +
      "server pool's PostgreSQL backends, the whole machine:",
  );
  console.log(
    formatTable(
      ['clients', 'app: Node', 'PostgreSQL', 'machine', 'bare: Node', 'PostgreSQL', 'machine'],
      points.map((p) => [
        String(p.clients),
        ...cpuPerItem(p.app.cpu, p.app.result.ok),
        ...cpuPerItem(p.bare.cpu, p.bare.result.ok),
      ]),
    ),
  );
}
