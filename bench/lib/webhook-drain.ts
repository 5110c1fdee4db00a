// The drain half of the webhook benchmark: N pending no-op events drained by Carebook's
// WebhookWorker, and N no-op jobs drained by graphile-worker, on the same database, the same
// payload, the same number of concurrent loops and the same connection budget. Each side is
// loaded in bulk with generate_series (nothing timed), vacuumed and analysed alike, then timed from
// its first claim to its last commit, and checked afterwards: every event `success` after exactly
// one attempt; every job run exactly once and gone from graphile-worker's table.
import { Logger, run, runMigrations } from 'graphile-worker';
import pg from 'pg';
import { createPool } from '../../src/db/pool.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { DEFAULT_INTEGRATIONS } from '../../src/webhooks/integrations.js';
import { WebhookWorker } from '../../src/webhooks/worker.js';
import { type CpuSpent, cpuSince, localBackends, readCpu } from './cpu.js';

/** An event type no handler knows: settled `success` with an "ignored" note — Carebook's no-op. */
export const NOOP_EVENT_TYPE = 'bench.noop';
const NOOP_TASK = 'bench_noop';

/**
 * The payload of every event and every job: a small Stripe event envelope (about 200 bytes), so
 * both sides move and parse the same JSON. `$1` is the row's number.
 */
const PAYLOAD_SQL = `jsonb_build_object('id', 'evt_drain_' || $1, 'object', 'event', 'type', '${NOOP_EVENT_TYPE}',
  'created', 1700000000, 'livemode', false,
  'data', jsonb_build_object('object', jsonb_build_object('id', 'pi_drain_' || $1, 'object', 'payment_intent',
                                                        'amount', 5000, 'currency', 'usd')))`;

export interface DrainResult {
  /** Items settled in the timed section (all of them unless the time cap stopped the run). */
  items: number;
  elapsedMs: number;
  rate: number;
  /** The time cap stopped the run before the queue was empty. */
  capped: boolean;
  cpu: CpuSpent;
  problems: string[];
}

interface Clock {
  started: bigint;
  deadline: bigint;
  cpu: ReturnType<typeof readCpu>;
}

function startClock(capMs: number, backends: readonly number[]): Clock {
  const cpu = readCpu(backends);
  const started = process.hrtime.bigint();
  return { started, deadline: started + BigInt(Math.round(capMs * 1e6)), cpu };
}

const pastDeadline = (clock: Clock) => process.hrtime.bigint() >= clock.deadline;

/** The time from the start to the last commit, and items per second over it. */
function stopClock(clock: Clock, items: number, capped: boolean): DrainResult {
  const elapsedMs = Number(process.hrtime.bigint() - clock.started) / 1e6;
  return {
    items,
    elapsedMs,
    rate: (items * 1000) / elapsedMs,
    capped,
    cpu: cpuSince(clock.cpu),
    problems: [],
  };
}

/** Runs `sql` with `$1` bound to each of 1…n through generate_series, in chunks of 20,000 rows. */
async function bulk(admin: pg.Pool, n: number, build: (series: string) => string): Promise<void> {
  const chunk = 20_000;
  for (let from = 1; from <= n; from += chunk) {
    const to = Math.min(n, from + chunk - 1);
    await admin.query(build(`generate_series(${from}, ${to})`));
  }
}

export interface CarebookDrainOptions {
  admin: pg.Pool;
  databaseUrl: string;
  events: number;
  /** Concurrent drain loops in one WebhookWorker (CAREBOOK_WORKER_CONCURRENCY). */
  concurrency: number;
  batchSize: number;
  /** Worker instances sharing the queue (as separate `carebook worker` processes would). */
  instances: number;
  poolMax: number;
  /** The run stops after this long even if events are left (they must then be untouched). */
  capMs: number;
}

/** Loads `events` pending no-op events and times WebhookWorker draining them; checks them after. */
export async function drainCarebook(options: CarebookDrainOptions): Promise<DrainResult> {
  const { admin, events } = options;
  await admin.query('TRUNCATE webhook_events');
  await bulk(
    admin,
    events,
    (series) => `
    INSERT INTO webhook_events (webhook_id, provider, event_id, event_type, payload, raw_body, signed_headers,
                                request_url, signature)
    SELECT '${DEFAULT_INTEGRATIONS.stripe}', 'stripe', p.payload->>'id', '${NOOP_EVENT_TYPE}', p.payload,
           convert_to(p.payload::text, 'UTF8'), '{"stripe-signature": "t=1700000000,v1=00"}',
           'https://api.clinic.example/webhooks/stripe', 't=1700000000,v1=00'
      FROM ${series} AS i, LATERAL (SELECT ${PAYLOAD_SQL.replaceAll('$1', 'i')} AS payload) AS p`,
  );
  await admin.query('VACUUM ANALYZE webhook_events');

  // One pool per instance, as each worker process has its own; the connection budget is split.
  const perInstance = Math.max(2, Math.floor(options.poolMax / options.instances));
  const names = Array.from({ length: options.instances }, (_, i) => `carebook-worker-bench-${i}`);
  const pools = names.map((applicationName) =>
    createPool(options.databaseUrl, { max: perInstance, applicationName }),
  );
  try {
    const workers = pools.map(
      (pool, i) =>
        new WebhookWorker({
          pool,
          databaseUrl: options.databaseUrl,
          logger: createLogger('silent'),
          metrics: createMetrics(),
          config: {
            concurrency: options.concurrency,
            batchSize: options.batchSize,
            leaseSeconds: 60,
            maxAttempts: 8,
            metricsPort: 0,
          },
          workerId: `bench-worker-${i}`,
        }),
    );
    // Open each pool's connections first: a connect is not queue work (graphile-worker gets the same).
    await Promise.all(pools.map((pool) => warm(pool, perInstance)));
    const clock = startClock(options.capMs, await localBackends(admin, options.databaseUrl, names));
    let capped = false;
    // drain()'s own loop — runOnce (claim → handle → settle one batch) until nothing is due, no
    // idle wait between — with a time cap; `concurrency` loops per instance, as start() runs them.
    const loop = async (worker: WebhookWorker): Promise<number> => {
      let handled = 0;
      for (;;) {
        if (pastDeadline(clock)) {
          capped = true;
          return handled;
        }
        const n = await worker.runOnce();
        if (n === 0) return handled;
        handled += n;
      }
    };
    const handled = await Promise.all(
      workers.flatMap((worker) => Array.from({ length: options.concurrency }, () => loop(worker))),
    );
    const drained = stopClock(
      clock,
      handled.reduce((sum, n) => sum + n, 0),
      capped,
    );
    drained.problems.push(...(await checkEvents(admin, events, drained.items)));
    return drained;
  } finally {
    await Promise.all(pools.map((pool) => pool.end()));
  }
}

async function warm(pool: pg.Pool, connections: number): Promise<void> {
  const clients = await Promise.all(Array.from({ length: connections }, () => pool.connect()));
  for (const client of clients) client.release();
}

/** Every handled event settled once as an ignored success; any left over untouched and pending. */
async function checkEvents(admin: pg.Pool, expected: number, handled: number): Promise<string[]> {
  const { rows } = await admin.query<{
    total: number;
    settled: number;
    untouched: number;
    other: string | null;
  }>(
    `SELECT count(*)::int AS total,
            count(*) FILTER (WHERE status = 'success' AND attempts = 1 AND note LIKE 'ignored:%'
                               AND processed_by IS NOT NULL AND locked_by IS NULL)::int AS settled,
            count(*) FILTER (WHERE status = 'pending' AND attempts = 0)::int AS untouched,
            string_agg(DISTINCT status || ' after ' || attempts || ' attempt(s)', ', ')
              FILTER (WHERE NOT (status = 'success' AND attempts = 1)
                        AND NOT (status = 'pending' AND attempts = 0)) AS other
       FROM webhook_events`,
  );
  const row = rows[0];
  if (!row) return ['the event check returned no row'];
  if (row.total === expected && row.settled === handled && row.untouched === expected - handled) return [];
  return [
    `Carebook drain: ${row.settled} events settled once as ignored successes, ${row.untouched} untouched, ` +
      `of ${row.total} rows; expected ${handled} settled of ${expected} (others: ${row.other ?? 'none'})`,
  ];
}

export interface GraphileSettings {
  localQueueSize: number;
  completeJobBatchDelay: number;
  failJobBatchDelay: number;
}

export interface GraphileDrainOptions {
  admin: pg.Pool;
  databaseUrl: string;
  jobs: number;
  concurrency: number;
  poolMax: number;
  settings: GraphileSettings;
  capMs: number;
}

/** Installs graphile-worker's schema (graphile_worker) in the database; idempotent. */
export async function installGraphileWorker(databaseUrl: string): Promise<void> {
  await runMigrations({ connectionString: databaseUrl, logger: quietLogger([]) });
}

/** A graphile-worker logger that keeps its errors for the report and drops everything else. */
function quietLogger(errors: string[]): Logger {
  return new Logger(() => (level, message) => {
    if (level === 'error' && errors.length < 5) errors.push(message);
  });
}

/** Loads `jobs` no-op jobs with add_jobs and times graphile-worker's run() draining them. */
export async function drainGraphile(options: GraphileDrainOptions): Promise<DrainResult> {
  const { admin, jobs } = options;
  await admin.query('DELETE FROM graphile_worker._private_jobs');
  // add_jobs is graphile-worker's own bulk entry point (what WorkerUtils.addJobs calls).
  await bulk(
    admin,
    jobs,
    (series) => `
    SELECT count(*) FROM graphile_worker.add_jobs(ARRAY(
      SELECT ROW('${NOOP_TASK}', (${PAYLOAD_SQL.replaceAll('$1', 'i')})::json, NULL, NULL, NULL, NULL, NULL,
                 NULL)::graphile_worker.job_spec
        FROM ${series} AS i))`,
  );
  await admin.query('VACUUM ANALYZE graphile_worker._private_jobs');

  const runs = new Uint8Array(jobs + 1);
  let completed = 0;
  let allRan: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    allRan = resolve;
  });
  const errors: string[] = [];
  // Our pool, so that its connections can be opened before the clock starts, with the error
  // handlers graphile-worker asks a caller's pool to have.
  const name = 'graphile-worker-bench';
  const pool = new pg.Pool({
    connectionString: options.databaseUrl,
    max: options.poolMax,
    application_name: name,
  });
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  try {
    await warm(pool, options.poolMax);
    // run()'s own start-up (its migration check, the LISTEN connection) is inside the clock: it
    // takes about 5 ms, against seconds of draining.
    const clock = startClock(options.capMs, await localBackends(admin, options.databaseUrl, [name]));
    const runner = await run({
      pgPool: pool,
      concurrency: options.concurrency,
      noHandleSignals: true,
      logger: quietLogger(errors),
      taskList: {
        [NOOP_TASK]: async (payload) => {
          const id = String((payload as { id?: unknown }).id ?? '');
          const n = Number(id.slice('evt_drain_'.length));
          if (n >= 1 && n <= jobs) runs[n] = (runs[n] ?? 0) + 1;
          completed += 1;
          if (completed === jobs) allRan();
        },
      },
      preset: {
        worker: {
          localQueue: { size: options.settings.localQueueSize },
          completeJobBatchDelay: options.settings.completeJobBatchDelay,
          failJobBatchDelay: options.settings.failJobBatchDelay,
        },
      },
    });
    // Every task has run once the counter is full; the queue is drained once their completions
    // (batched, completeJobBatchDelay after the task) have committed: the table is then empty.
    let timer: NodeJS.Timeout | undefined;
    const cap = new Promise<'capped'>((resolve) => {
      timer = setTimeout(() => resolve('capped'), Number(clock.deadline - process.hrtime.bigint()) / 1e6);
    });
    const outcome = await Promise.race([
      finished.then(() => 'ran' as const),
      runner.promise.then(() => 'stopped' as const),
      cap,
    ]).finally(() => clearTimeout(timer));
    let empty = false;
    while (outcome === 'ran' && !empty && !pastDeadline(clock)) {
      empty = (await admin.query('SELECT 1 FROM graphile_worker._private_jobs LIMIT 1')).rowCount === 0;
      if (!empty) await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const drained = stopClock(clock, completed, !empty);
    if (outcome === 'stopped') drained.problems.push('graphile-worker stopped before the queue was empty');
    await runner.stop();
    await runner.promise.catch(() => {});
    let once = 0;
    let twice = 0;
    for (let n = 1; n <= jobs; n++) {
      if (runs[n] === 1) once += 1;
      else if ((runs[n] ?? 0) > 1) twice += 1;
    }
    const left = Number(
      (await admin.query('SELECT count(*) FROM graphile_worker._private_jobs')).rows[0]?.count,
    );
    if (twice > 0 || once !== completed || left !== jobs - once) {
      drained.problems.push(
        `graphile-worker drain: ${once} jobs ran once, ${twice} more than once, ${left} left of ${jobs}`,
      );
    }
    drained.problems.push(...errors.map((error) => `graphile-worker logged an error: ${error}`));
    return drained;
  } finally {
    await pool.end();
  }
}
