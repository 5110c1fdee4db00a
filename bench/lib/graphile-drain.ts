// The baseline of both drains: graphile-worker 0.17.3 draining N jobs with run(), in its batched
// configuration (a local queue, batched completions), with a task given by the caller (a no-op,
// or the same HTTP call Carebook makes). Jobs are added with graphile_worker.add_jobs, its own
// bulk entry point (what WorkerUtils.addJobs calls). The clock runs from run() until every task
// has run and the jobs table is empty (completions are batched and commit after the task).
// Checked afterwards: every job ran exactly once (by the caller's per-job counters) and is gone.
import { Logger, run, runMigrations } from 'graphile-worker';
import pg from 'pg';
import {
  beforeDeadline,
  bulk,
  Countdown,
  type DrainResult,
  prepareTables,
  startClock,
  stopClock,
  untilNoRow,
  warm,
} from './drain.js';

export interface GraphileSettings {
  localQueueSize: number;
  completeJobBatchDelay: number;
  failJobBatchDelay: number;
}

export const graphileLabel = (s: GraphileSettings) =>
  `localQueue.size ${s.localQueueSize}, completeJobBatchDelay ${s.completeJobBatchDelay} ms, ` +
  `failJobBatchDelay ${s.failJobBatchDelay} ms`;

export interface GraphileDrainOptions {
  admin: pg.Pool;
  databaseUrl: string;
  jobs: number;
  concurrency: number;
  poolMax: number;
  settings: GraphileSettings;
  capMs: number;
  /** The SQL expression of job number `i`'s payload. */
  payloadSql: (i: string) => string;
  task: (payload: unknown) => Promise<void>;
  /**
   * How many times each job number ran, filled by the task or by the endpoint it calls; index 0
   * counts runs that named no job. Zeroed here before the run.
   */
  runs: Int32Array;
  /** CPU of a helper thread of this process (the endpoint the task calls), told apart from ours. */
  helperCpuMs?: () => Promise<number>;
  /** Runs after loading, before the clock (the endpoint's keep-alive sockets are opened here). */
  prepare?: () => Promise<void>;
}

const TASK = 'bench_task';
const POOL_NAME = 'graphile-worker-bench';

/** Installs graphile-worker's schema (graphile_worker) in the database; idempotent. */
export async function installGraphileWorker(databaseUrl: string): Promise<void> {
  await runMigrations({ connectionString: databaseUrl, logger: quietLogger([]) });
}

export async function clearGraphileJobs(admin: pg.Pool): Promise<void> {
  await admin.query('DELETE FROM graphile_worker._private_jobs');
}

/** A graphile-worker logger that keeps its errors for the report and drops everything else. */
function quietLogger(errors: string[]): Logger {
  return new Logger(() => (level, message) => {
    if (level === 'error' && errors.length < 5) errors.push(message);
  });
}

export async function drainGraphile(options: GraphileDrainOptions): Promise<DrainResult> {
  const { admin, jobs } = options;
  await clearGraphileJobs(admin);
  await bulk(
    admin,
    jobs,
    (series) => `
    SELECT count(*) FROM graphile_worker.add_jobs(ARRAY(
      SELECT ROW('${TASK}', (${options.payloadSql('i')})::json, NULL, NULL, NULL, NULL, NULL,
                 NULL)::graphile_worker.job_spec
        FROM ${series}))`,
  );
  await prepareTables(admin, ['graphile_worker._private_jobs']);
  options.runs.fill(0);

  const ran = new Countdown(jobs);
  const errors: string[] = [];
  // Our pool, so that its connections can be opened before the clock starts, with the error
  // handlers graphile-worker asks a caller's pool to have.
  const pool = new pg.Pool({
    connectionString: options.databaseUrl,
    max: options.poolMax,
    application_name: POOL_NAME,
  });
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  let drained: DrainResult;
  let stopErrors: string[];
  try {
    await warm(pool, options.poolMax);
    await options.prepare?.();
    // run()'s own start-up (its migration check, the LISTEN connection) is inside the clock: it
    // takes about 5 ms, against seconds of draining.
    const clock = await startClock({ ...options, applications: [POOL_NAME] });
    const runner = await run({
      pgPool: pool,
      concurrency: options.concurrency,
      noHandleSignals: true,
      logger: quietLogger(errors),
      taskList: {
        [TASK]: async (payload) => {
          await options.task(payload);
          ran.add();
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
    // run() ends only when stopped: ending earlier is a problem of the run.
    const ended = runner.promise.then(
      () => {},
      () => {},
    );
    // Every task has run once the countdown is reached; the queue is drained once their batched
    // completions have committed: the table is then empty.
    const inTime = await beforeDeadline(clock, Promise.race([ran.reached, ended]));
    const allRan = ran.count >= jobs;
    const empty =
      allRan && (await untilNoRow(admin, 'SELECT 1 FROM graphile_worker._private_jobs LIMIT 1', [], clock));
    drained = await stopClock(clock, ran.count, !empty);
    if (inTime && !allRan) drained.problems.push('graphile-worker stopped before the queue was empty');
    const drainErrors = errors.length;
    await runner.stop();
    await runner.promise.catch(() => {});
    stopErrors = errors.splice(drainErrors);
  } finally {
    // Waits for the statements still running (the return of locally queued jobs) to finish.
    await pool.end();
  }
  drained.problems.push(...errors.map((error) => `graphile-worker logged an error: ${error}`));
  // Stopped while its local queue held jobs, 0.17.3's LocalQueue.release() throws ("Cannot
  // background something when the queue is already released") after it has sent them back; the
  // check below proves they are back, so only a capped run's stop may log that.
  if (drained.capped && stopErrors.length > 0) {
    process.stderr.write(
      `· note: graphile-worker logged ${stopErrors.length} errors while stopping a capped run (${stopErrors[0]})\n`,
    );
  } else {
    drained.problems.push(...stopErrors.map((error) => `graphile-worker logged an error: ${error}`));
  }
  drained.problems.push(...(await checkRuns(admin, options.runs, ran.count, jobs)));
  return drained;
}

/** Every completed job ran exactly once, no run named an unknown job, the rest queued and unlocked. */
async function checkRuns(admin: pg.Pool, runs: Int32Array, completed: number, jobs: number) {
  let once = 0;
  let more = 0;
  for (let n = 1; n <= jobs; n++) {
    if (runs[n] === 1) once += 1;
    else if ((runs[n] ?? 0) > 1) more += 1;
  }
  const { rows } = await admin.query<{ left: number; locked: number }>(
    `SELECT count(*)::int AS left, count(*) FILTER (WHERE locked_at IS NOT NULL)::int AS locked
       FROM graphile_worker._private_jobs`,
  );
  const left = rows[0]?.left;
  const locked = rows[0]?.locked;
  if (more === 0 && runs[0] === 0 && once === completed && left === jobs - once && locked === 0) return [];
  return [
    `graphile-worker drain: ${once} jobs ran once, ${more} more than once, ${runs[0]} runs named no job, ` +
      `${left} left of ${jobs} (${locked} still locked; ${completed} tasks completed)`,
  ];
}
