// Carebook's side of the claim–call–settle drain: N records in a wide table of the benchmark's own
// (bench_calls, shaped like the outbox will be: a frozen ~200-byte payload, a status and a result
// changed by one batched UPDATE per settle, no index on what that UPDATE changes), one queue_jobs
// row each (enqueue_queue_job), drained by QueueWorker's own loops with a CallKind: load the
// payloads in the claim's transaction, POST each to the endpoint with no transaction open, record
// the results in the settle's (fenced) transaction. Checked afterwards: every id called exactly
// once, every record `sent` with the endpoint's answer, queue_jobs empty (or, in a capped run, the
// rest untouched).
import type pg from 'pg';
import { createPool } from '../../src/db/pool.js';
import { createMetrics } from '../../src/observability/metrics.js';
import type { CallKind, KindSettings } from '../../src/queue/kind.js';
import { QueueWorker } from '../../src/queue/worker.js';
import { CALL_ID_PREFIX, type CallEndpoint, callPayloadSql, postCall } from './call-endpoint.js';
import {
  beforeDeadline,
  bulk,
  Countdown,
  type DrainResult,
  prepareTables,
  problemLogger,
  startClock,
  stopClock,
  untilNoRow,
  warm,
} from './drain.js';

const CALL_KIND = 'bench.calls';
const POOL_NAME = 'carebook-calls-bench';

/** The benchmark's stand-in for the outbox; the worker reads it and records results in it. */
export const CALLS_TABLE_SQL = `
  CREATE TABLE bench_calls (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    payload jsonb NOT NULL,
    status text NOT NULL DEFAULT 'pending',
    result text,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz
  );
  GRANT SELECT, UPDATE (status, result, sent_at) ON bench_calls TO carebook_worker;
  GRANT SELECT, UPDATE (status, result) ON bench_calls TO carebook_admin;`;

export interface CallDrainOptions {
  admin: pg.Pool;
  databaseUrl: string;
  jobs: number;
  /** Loops of the QueueWorker; each claims batchSize jobs and has up to inFlight calls in flight. */
  concurrency: number;
  batchSize: number;
  inFlight: number;
  poolMax: number;
  capMs: number;
  endpoint: CallEndpoint;
}

interface BenchCall {
  ref: string;
  payload: unknown;
}

async function loadCalls(admin: pg.Pool, jobs: number): Promise<void> {
  await admin.query('TRUNCATE bench_calls, queue_jobs, queue_throughput');
  await bulk(
    admin,
    jobs,
    (series) => `
    WITH rows AS (INSERT INTO bench_calls (payload) SELECT ${callPayloadSql('i')} FROM ${series} RETURNING id)
    SELECT count(enqueue_queue_job('${CALL_KIND}', id, now(), false)) FROM rows`,
  );
  await prepareTables(admin, ['bench_calls', 'queue_jobs']);
}

/** The CallKind over bench_calls, counting the records it marks sent. */
function benchCallKind(url: string, settings: KindSettings, sent: Countdown): CallKind<BenchCall, string> {
  return {
    name: CALL_KIND,
    mode: 'claim_call_settle',
    settings,
    wake: { channel: 'carebook_queue', payload: CALL_KIND },
    async load(sql, jobs) {
      const result = await sql.query<BenchCall>(
        'SELECT id::text AS ref, payload FROM bench_calls WHERE id = ANY ($1::uuid[])',
        [jobs.map((job) => job.ref)],
      );
      return result.rows;
    },
    // The payload is sent as graphile-worker's task sends its job's: parsed, then stringified.
    call: (item, _job, signal) => postCall(url, item.payload, signal),
    async recordSuccess(sql, done) {
      await sql.query(
        `UPDATE bench_calls c SET status = 'sent', result = d.result, sent_at = now()
           FROM unnest($1::uuid[], $2::text[]) AS d(id, result) WHERE c.id = d.id`,
        [done.map((d) => d.item.ref), done.map((d) => d.result)],
      );
      sent.add(done.length);
    },
    async recordFailure(sql, failed) {
      await sql.query(
        `UPDATE bench_calls c SET status = f.status, result = f.error
           FROM unnest($1::uuid[], $2::text[], $3::text[]) AS f(id, status, error) WHERE c.id = f.id`,
        [failed.map((f) => f.ref), failed.map((f) => f.status), failed.map((f) => f.error)],
      );
    },
    async recordReplay(sql, refs) {
      await sql.query(
        `UPDATE bench_calls SET status = 'pending', result = NULL WHERE id = ANY ($1::uuid[])`,
        [refs],
      );
    },
  };
}

/** Loads `jobs` records and their jobs, and times QueueWorker calling the endpoint for each. */
export async function drainCarebookCalls(options: CallDrainOptions): Promise<DrainResult> {
  const { admin, jobs, endpoint } = options;
  await loadCalls(admin, jobs);
  endpoint.calls.fill(0);
  const pool = createPool(options.databaseUrl, {
    max: options.poolMax,
    applicationName: POOL_NAME,
    pipeline: true,
  });
  const sent = new Countdown(jobs);
  const logged: string[] = [];
  const settings: KindSettings = {
    batchSize: options.batchSize,
    concurrency: options.concurrency,
    callsInFlight: options.inFlight,
    leaseSeconds: 60,
    maxAttempts: 8,
    backoff: { baseSeconds: 5, capSeconds: 60 },
  };
  try {
    const worker = new QueueWorker({
      pool,
      listenUrl: null,
      logger: problemLogger(logged, 'Carebook call worker'),
      metrics: createMetrics(),
      kinds: [benchCallKind(endpoint.url, settings, sent)],
      workerId: 'bench-caller',
    });
    await warm(pool, options.poolMax);
    await endpoint.warm(options.concurrency * options.inFlight);
    const clock = await startClock({ ...options, applications: [POOL_NAME], helperCpuMs: endpoint.cpuMs });
    worker.start();
    // Results are recorded in the settle's transaction; the jobs table is empty once the last commits.
    const empty =
      (await beforeDeadline(clock, sent.reached)) &&
      (await untilNoRow(admin, 'SELECT 1 FROM queue_jobs WHERE kind = $1 LIMIT 1', [CALL_KIND], clock));
    // A capped run stops here: batches in hand finish their calls and settle, unstarted jobs go back.
    if (!empty) await worker.stop();
    const drained = await stopClock(clock, sent.count, !empty);
    await worker.stop();
    drained.problems.push(...logged, ...(await checkCalls(admin, endpoint, jobs, sent.count)));
    return drained;
  } finally {
    await pool.end();
  }
}

/** Each sent record called exactly once and recorded with its answer; every other one untouched. */
async function checkCalls(admin: pg.Pool, endpoint: CallEndpoint, jobs: number, handled: number) {
  const { rows } = await admin.query<{
    total: number;
    sent: number;
    untouched: number;
    jobs_left: number;
    jobs_touched: number;
    sent_numbers: number[] | null;
  }>(
    `SELECT count(*)::int AS total,
            count(*) FILTER (WHERE status = 'sent' AND result = 'done:' || (payload->>'id'))::int AS sent,
            count(*) FILTER (WHERE status = 'pending' AND result IS NULL)::int AS untouched,
            (SELECT count(*) FROM queue_jobs WHERE kind = $1)::int AS jobs_left,
            (SELECT count(*) FROM queue_jobs
              WHERE kind = $1 AND (attempts > 0 OR locked_by IS NOT NULL OR dead_at IS NOT NULL))::int AS jobs_touched,
            array_agg(substr(payload->>'id', $2)::int) FILTER (WHERE status = 'sent') AS sent_numbers
       FROM bench_calls`,
    [CALL_KIND, CALL_ID_PREFIX.length + 1],
  );
  const row = rows[0];
  if (!row) return ['the call check returned no row'];
  const sentNumbers = new Set(row.sent_numbers ?? []);
  let calledOnce = 0;
  let calledMore = 0;
  let unrecorded = 0;
  for (let n = 1; n <= jobs; n++) {
    const calls = endpoint.calls[n] ?? 0;
    if (calls > 1) calledMore += 1;
    if (calls === 1 && sentNumbers.has(n)) calledOnce += 1;
    if (calls > 0 && !sentNumbers.has(n)) unrecorded += 1;
  }
  const stray = endpoint.calls[0] ?? 0;
  const fine =
    row.total === jobs &&
    row.sent === handled &&
    row.untouched === jobs - handled &&
    row.jobs_left === jobs - handled &&
    row.jobs_touched === 0 &&
    calledOnce === handled &&
    calledMore === 0 &&
    unrecorded === 0 &&
    stray === 0;
  if (fine) return [];
  return [
    `Carebook call drain: ${row.sent} records sent with their answer, ${row.untouched} untouched, of ` +
      `${row.total}; ${row.jobs_left} jobs left (${row.jobs_touched} touched); expected ${handled} sent of ` +
      `${jobs}. Endpoint: ${calledOnce} sent records called once, ${calledMore} ids called more than once, ` +
      `${unrecorded} called but not recorded, ${stray} calls naming no record`,
  ];
}
