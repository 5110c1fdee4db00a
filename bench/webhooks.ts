// npm run bench:webhooks — the webhook pipeline's two speeds, each side by side with its baseline
// in one run on one database:
// 1. Drain: N pending no-op events (a type without a handler: settled `success` with an "ignored"
//    note) drained by Carebook's WebhookWorker, and N no-op jobs drained by graphile-worker in its
//    batched configuration (local queue, batched completion; the settings tried are printed and
//    the fastest is used), with the same payload, concurrency and connection budget.
//    Target (DESIGN.md): ≥ 2× graphile-worker.
// 2. Ingestion: signed Stripe events, each with a fresh id, POSTed by 1, 8 and 32 closed-loop
//    clients to the real app and to a bare endpoint doing the same single INSERT without
//    verification. Targets: ≥ 80 % of the bare endpoint's throughput; p99 under 50 ms.
// Timing is never asserted: the exit status is 1 only for wrong answers (an event not settled
// exactly once, a job not run exactly once, a non-200 or unstored delivery, a row count that does
// not add up). Uses DATABASE_URL's server when set, else an embedded PostgreSQL in
// .carebook/bench; a throwaway database either way. BENCH_EVENTS (default 100000) sets N,
// BENCH_SECONDS (default 5) each ingestion measurement, BENCH_DRAIN_CAP_SECONDS (default 15) the
// longest one drain may run (a capped run reports its rate over the items it settled).
import { randomBytes } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openCluster, uniqueDatabaseName } from '../src/db/cluster.js';
import { migrateUp } from '../src/db/migrate/runner.js';
import { type AppWorker, startAppWorker } from './lib/app-worker.js';
import { BARE_APPLICATION_NAME, startBareIngest } from './lib/bare-ingest.js';
import { wholeNumberFromEnv } from './lib/env.js';
import {
  type DrainResult,
  drainCarebook,
  drainGraphile,
  type GraphileSettings,
  installGraphileWorker,
} from './lib/webhook-drain.js';
import { runIngest, storedByPrefix } from './lib/webhook-ingest.js';
import {
  type CarebookRun,
  type DrainReport,
  type GraphileTrial,
  graphileLabel,
  type IngestPoint,
  type IngestReport,
  printDrainReport,
  printIngestReport,
} from './lib/webhook-report.js';

const ROOT = path.resolve(import.meta.dirname, '..');
/** Connections each drainer may use: graphile-worker's default pool size (Carebook needs fewer). */
const DRAIN_POOL_MAX = 10;
const DRAIN_CONCURRENCY = [2, 4] as const;
/**
 * graphile-worker's batching settings tried at the higher concurrency: a local queue of
 * concurrency + 1 (its docs' starting point) up to 500 (the size of its own published performance
 * run), completions batched immediately (0 ms, as in that run) and, at the largest queue, over
 * 10 ms. The fastest is used at every concurrency.
 */
const GRAPHILE_TRIALS: readonly GraphileSettings[] = [
  { localQueueSize: 5, completeJobBatchDelay: 0, failJobBatchDelay: 0 },
  { localQueueSize: 50, completeJobBatchDelay: 0, failJobBatchDelay: 0 },
  { localQueueSize: 200, completeJobBatchDelay: 0, failJobBatchDelay: 0 },
  { localQueueSize: 500, completeJobBatchDelay: 0, failJobBatchDelay: 0 },
  { localQueueSize: 500, completeJobBatchDelay: 10, failJobBatchDelay: 10 },
];
/** Carebook beyond one instance at batch 50: bigger claims (two transactions each), two processes. */
const CAREBOOK_RUNS = [
  ...DRAIN_CONCURRENCY.map((concurrency) => ({ concurrency, batchSize: 50, instances: 1 })),
  { concurrency: 4, batchSize: 100, instances: 1 },
  { concurrency: 2, batchSize: 50, instances: 2 },
];
const INGEST_CLIENTS = [1, 8, 32] as const;
const INGEST_POOL_MAX = 32; // app and bare endpoint alike: at least the highest client count
/** The application_name of the app's pool (bench/lib/app-worker.ts). */
const APP_APPLICATION_NAME = 'carebook-api-bench';
const WARMUP_SECONDS = 1;
const progress = (line: string) => process.stderr.write(`· ${line}\n`);

interface Settings {
  admin: pg.Pool;
  url: string;
  events: number;
  capMs: number;
  problems: string[];
}

function collect(where: string, result: DrainResult, problems: string[]): DrainResult {
  for (const problem of result.problems) problems.push(`${where}: ${problem}`);
  return result;
}

async function drainPart(s: Settings): Promise<DrainReport> {
  const graphileRun = (concurrency: number, settings: GraphileSettings) => {
    progress(`graphile-worker, concurrency ${concurrency}, ${graphileLabel(settings)}: ${s.events} jobs`);
    return drainGraphile({
      admin: s.admin,
      databaseUrl: s.url,
      jobs: s.events,
      concurrency,
      poolMax: DRAIN_POOL_MAX,
      settings,
      capMs: s.capMs,
    }).then((result) => collect(`graphile-worker (${graphileLabel(settings)})`, result, s.problems));
  };
  const top = Math.max(...DRAIN_CONCURRENCY);
  const trials: GraphileTrial[] = [];
  for (const settings of GRAPHILE_TRIALS) trials.push({ settings, result: await graphileRun(top, settings) });
  const best = trials.reduce((a, b) => (b.result.rate > a.result.rate ? b : a));
  const graphile = new Map<number, DrainResult>([[top, best.result]]);
  for (const concurrency of DRAIN_CONCURRENCY) {
    if (!graphile.has(concurrency)) graphile.set(concurrency, await graphileRun(concurrency, best.settings));
  }

  const carebook: CarebookRun[] = [];
  for (const run of CAREBOOK_RUNS) {
    const label = `Carebook, ${run.instances} worker${run.instances > 1 ? 's' : ''} × ${run.concurrency} loops, batch ${run.batchSize}`;
    progress(`${label}: ${s.events} events`);
    const result = await drainCarebook({
      admin: s.admin,
      databaseUrl: s.url,
      events: s.events,
      concurrency: run.concurrency,
      batchSize: run.batchSize,
      instances: run.instances,
      poolMax: DRAIN_POOL_MAX,
      capMs: s.capMs,
    });
    carebook.push({
      label,
      loops: run.concurrency * run.instances,
      standard: run.instances === 1 && run.batchSize === 50,
      result: collect(label, result, s.problems),
    });
  }
  await s.admin.query('TRUNCATE webhook_events');
  await s.admin.query('DELETE FROM graphile_worker._private_jobs');
  return {
    poolMax: DRAIN_POOL_MAX,
    capSeconds: s.capMs / 1000,
    carebook,
    graphile,
    trials,
    trialConcurrency: top,
    best,
  };
}

async function ingestPart(
  s: Settings,
  seconds: number,
  cleanup: (() => Promise<unknown>)[],
): Promise<IngestReport> {
  const secret = `whsec_bench_${randomBytes(24).toString('hex')}`;
  const app = await startAppWorker({
    env: {
      DATABASE_URL: s.url,
      CAREBOOK_JWT_SECRET: randomBytes(32).toString('base64url'),
      CAREBOOK_DB_POOL_MAX: String(INGEST_POOL_MAX),
      STRIPE_WEBHOOK_SECRET: secret,
      LOG_LEVEL: 'silent',
    },
  });
  cleanup.unshift(() => app.close());
  const bare = await startBareIngest({ databaseUrl: s.url, poolMax: INGEST_POOL_MAX });
  cleanup.unshift(() => bare.close());
  const expected = new Map<string, number>();
  const ingest = async (server: AppWorker, where: string, applicationName: string, clients: number) => {
    progress(`ingestion at ${clients} clients: ${where}`);
    const prefix = `${applicationName.split('-')[0]}${clients}`;
    const run = await runIngest({
      url: server.url,
      secret,
      clients,
      warmupMs: WARMUP_SECONDS * 1000,
      durationMs: seconds * 1000,
      prefix,
      admin: s.admin,
      databaseUrl: s.url,
      applicationName,
    });
    expected.set(prefix, run.stored);
    if (run.errors > 0) {
      s.problems.push(
        `ingestion, ${where} at ${clients} clients: ${run.errors} failed (${run.errorSamples.join('; ')})`,
      );
    }
    return run;
  };
  const points: IngestPoint[] = [];
  for (const clients of INGEST_CLIENTS) {
    // Bare first, then the app: the app meets the slightly larger table.
    const bareRun = await ingest(bare, 'bare endpoint', BARE_APPLICATION_NAME, clients);
    const appRun = await ingest(app, 'Carebook app', APP_APPLICATION_NAME, clients);
    points.push({ clients, app: appRun, bare: bareRun });
  }
  await app.close();
  await bare.close();
  const found = await storedByPrefix(s.admin);
  let allFound = true;
  for (const [prefix, stored] of expected) {
    const rows = found.get(prefix) ?? 0;
    if (rows !== stored) {
      allFound = false;
      s.problems.push(`ingestion ${prefix}: ${stored} deliveries answered stored, ${rows} rows found`);
    }
  }
  const stored = [...expected.values()].reduce((sum, n) => sum + n, 0);
  return { seconds, warmupSeconds: WARMUP_SECONDS, poolMax: INGEST_POOL_MAX, points, stored, allFound };
}

async function main(): Promise<number> {
  const events = wholeNumberFromEnv('BENCH_EVENTS', 100_000, 100, 10_000_000);
  const seconds = wholeNumberFromEnv('BENCH_SECONDS', 5, 1, 600);
  const capMs = wholeNumberFromEnv('BENCH_DRAIN_CAP_SECONDS', 15, 1, 3600) * 1000;
  const load = loadavg()[0] ?? 0;
  const problems: string[] = [];
  const cluster = await openCluster({
    databaseUrl: process.env.DATABASE_URL,
    dataDir: path.join(ROOT, '.carebook', 'bench'),
  });
  const name = uniqueDatabaseName('carebook_bench_webhooks');
  const cleanup: (() => Promise<unknown>)[] = [];
  try {
    const url = await cluster.createDatabase(name);
    progress(`migrating ${name} (Carebook's migrations, then graphile-worker's)`);
    await migrateUp({ databaseUrl: url });
    await installGraphileWorker(url);
    const admin = new pg.Pool({ connectionString: url, max: 2, application_name: 'bench-admin' });
    admin.on('error', () => {});
    cleanup.push(() => admin.end());
    const server = (
      await admin.query<{ version: string; synchronousCommit: string; fsync: string }>(
        `SELECT split_part(current_setting('server_version'), ' ', 1) AS version,
                current_setting('synchronous_commit') AS "synchronousCommit", current_setting('fsync') AS fsync`,
      )
    ).rows[0];
    const settings: Settings = { admin, url, events, capMs, problems };
    const drain = await drainPart(settings);
    const ingestion = await ingestPart(settings, seconds, cleanup);

    console.log(
      `webhook benchmark — PostgreSQL ${server?.version} (${cluster.embedded ? 'embedded' : 'DATABASE_URL'}; ` +
        `synchronous_commit=${server?.synchronousCommit}, fsync=${server?.fsync}), ${availableParallelism()} CPUs, ` +
        `load average ${load.toFixed(2)} at start, N = ${events}`,
    );
    console.log('');
    printDrainReport(drain);
    console.log('');
    printIngestReport(ingestion);
  } catch (error) {
    const reason = error instanceof Error ? (error.stack ?? error.message) : String(error);
    problems.push(`the benchmark stopped: ${reason}`);
  } finally {
    for (const step of cleanup) await step().catch(() => {});
    await cluster.dropDatabase(name).catch(() => {});
    await cluster.close();
  }
  for (const problem of problems) console.error(`ERROR ${problem}`);
  return problems.length > 0 ? 1 : 0;
}

process.exit(await main());
