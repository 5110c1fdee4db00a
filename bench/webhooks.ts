// npm run bench:webhooks — the queue engine and the webhook pipeline, each measured side by side
// with its baseline in one run on one database:
// 1. In-transaction drain: N pending events drained by Carebook's QueueWorker over the webhooks
//    kind, against N no-op jobs drained by graphile-worker in its batched configuration (local
//    queue, batched completion; the settings tried are printed, the fastest is used at every
//    concurrency); same payload, loops and connection budget. Carebook in two variants: a no-op
//    handler (runs no SQL, returns a note; the batch is recorded first — the headline, graphile's
//    no-op task's counterpart) and an ignored type (no handler, no batch record); loops 2 and 4 ×
//    batch 100/250/500/1,000, and two instances × 2 loops at the fastest batch.
//    Target (DESIGN.md): ≥ 1.5× graphile-worker's batched best, at the same loop count and fastest
//    against fastest; 2× the goal. CPU µs per item (Node, PostgreSQL backends, machine) beside it.
// 2. Claim–call–settle drain: N records of a wide table (bench_calls, like the outbox) with a job
//    each, POSTed to a local endpoint (a worker thread answering 200 at once) by QueueWorker with a
//    CallKind (lease, call with no transaction open, fenced settle that marks the record sent),
//    against graphile-worker running a task that makes the same call; 10 and 20 calls in flight on
//    each side. Target: ≥ 1.0× graphile-worker.
// 3. Ingestion: signed Stripe events, each with a fresh id, POSTed by 1, 8 and 32 closed-loop
//    clients to the real app and to a bare endpoint doing the same single INSERT without
//    verification. Targets: ≥ 80 % of the bare endpoint's throughput; p99 under 50 ms.
// Timing is never asserted: the exit status is 1 only for wrong answers (an item not settled
// exactly once, a call not made exactly once, a non-200 or unstored delivery, a row count that
// does not add up). Uses DATABASE_URL's server when set, else an embedded PostgreSQL in
// .carebook/bench; a throwaway database either way.
// Environment: BENCH_EVENTS (default 100000) sets part 1's N; BENCH_CALL_JOBS (default 20000)
// part 2's; BENCH_SECONDS (default 5) each ingestion measurement; BENCH_DRAIN_CAP_SECONDS
// (default 15) the longest one drain may run (a capped run reports its rate over the items it
// settled); BENCH_PARTS (default 123) which parts run, e.g. BENCH_PARTS=2.
import { randomBytes } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openCluster, uniqueDatabaseName } from '../src/db/cluster.js';
import { migrateUp } from '../src/db/migrate/runner.js';
import { type AppWorker, startAppWorker } from './lib/app-worker.js';
import { BARE_APPLICATION_NAME, startBareIngest } from './lib/bare-ingest.js';
import { callPart, type DrainSettings, inTransactionPart } from './lib/drain-parts.js';
import { printDrainReport } from './lib/drain-report.js';
import { choicesFromEnv, wholeNumberFromEnv } from './lib/env.js';
import { installGraphileWorker } from './lib/graphile-drain.js';
import { type IngestPoint, type IngestReport, printIngestReport } from './lib/ingest-report.js';
import { runIngest, storedByPrefix } from './lib/webhook-ingest.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const INGEST_CLIENTS = [1, 8, 32] as const;
const INGEST_POOL_MAX = 32; // app and bare endpoint alike: at least the highest client count
/** The application_name of the app's pool (bench/lib/app-worker.ts). */
const APP_APPLICATION_NAME = 'carebook-api-bench';
const WARMUP_SECONDS = 1;
const progress = (line: string) => process.stderr.write(`· ${line}\n`);

async function ingestPart(
  s: Pick<DrainSettings, 'admin' | 'url' | 'problems'>,
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
  const calls = wholeNumberFromEnv('BENCH_CALL_JOBS', 20_000, 100, 10_000_000);
  const seconds = wholeNumberFromEnv('BENCH_SECONDS', 5, 1, 600);
  const capMs = wholeNumberFromEnv('BENCH_DRAIN_CAP_SECONDS', 15, 1, 3600) * 1000;
  const parts = choicesFromEnv('BENCH_PARTS', '123');
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
    const sizes = [
      ...(parts.has('1') ? [`N = ${events} events (part 1)`] : []),
      ...(parts.has('2') ? [`N = ${calls} calls (part 2)`] : []),
    ];
    const settings: DrainSettings = { admin, url, capMs, problems, progress };
    const inTransaction = parts.has('1') ? await inTransactionPart(settings, events) : null;
    const call = parts.has('2') ? await callPart(settings, calls) : null;
    const ingestion = parts.has('3') ? await ingestPart(settings, seconds, cleanup) : null;

    console.log(
      `webhook benchmark — PostgreSQL ${server?.version} (${cluster.embedded ? 'embedded' : 'DATABASE_URL'}; ` +
        `synchronous_commit=${server?.synchronousCommit}, fsync=${server?.fsync}), ${availableParallelism()} CPUs, ` +
        `load average ${load.toFixed(2)} at start; ${sizes.join(', ')}`,
    );
    for (const report of [inTransaction, call]) {
      if (report === null) continue;
      console.log('');
      printDrainReport(report);
    }
    if (ingestion !== null) {
      console.log('');
      printIngestReport(ingestion);
    }
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
