// The printed report of npm run bench:webhooks' ingestion part: a table of both servers at each
// client count, a line per target ("met" / "not met"), and where the CPU went. Only prints; it
// judges nothing but the targets.
import { type CpuSpent, microsPerItem } from './cpu.js';
import { fixed, formatTable, percent } from './table.js';
import type { IngestRun } from './webhook-ingest.js';

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

/** µs of CPU per request: this process (Node), the measured PostgreSQL backends, the whole machine. */
function cpuPerItem(cpu: CpuSpent, items: number): [string, string, string] {
  const per = (ms: number | null) => fixed(microsPerItem(ms, items));
  return [per(cpu.processMs), per(cpu.databaseMs), per(cpu.machineMs)];
}

export function printIngestReport(report: IngestReport): void {
  console.log(
    `3. Ingestion: POST /webhooks/stripe, a signed ~1 KB event with a fresh id per request, closed loops, ` +
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
