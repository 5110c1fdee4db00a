// The engine's own SQL, one named function each (the procedures live in 00020): batch records of
// the in-transaction mode, and the lease state of claim–call–settle jobs (queue_jobs). All run as
// the carebook_worker role, except replay (carebook_admin).
import type { Pool, Sql } from '../db/pool.js';
import { queryInContext, type TenantContext } from '../db/tenant.js';
import { type ClaimedJob, type KindSettings, rateWindowSeconds } from './kind.js';

export function workerContext(workerId: string): TenantContext {
  return { dbRole: 'carebook_worker', appRole: 'service', userId: workerId, actor: workerId };
}

/** Records a claimed batch, committed at once on a connection of its own, before its handlers run. */
export async function recordBatch(pool: Pool, worker: string, kind: string, batch: string, ids: string[]) {
  await queryInContext(pool, workerContext(worker), 'record_queue_batch($1, $2, $3::uuid[])', [
    batch,
    kind,
    ids,
  ]);
}

/** Leases due jobs of a kind (buried ones come back with dead = true); in the caller's transaction. */
export async function claimJobs(
  sql: Sql,
  kind: string,
  worker: string,
  limit: number,
  settings: KindSettings,
): Promise<Array<ClaimedJob & { dead: boolean; alone: boolean }>> {
  const rate = settings.rateLimit ?? null;
  const result = await sql.query<{
    id: string;
    ref: string;
    attempts: number;
    dead: boolean;
    alone: boolean;
  }>('SELECT id::text, ref, attempts, dead, alone FROM claim_queue_jobs($1, $2, $3, $4, $5, $6, $7)', [
    kind,
    worker,
    limit,
    settings.leaseSeconds,
    settings.maxAttempts,
    rate?.max ?? null,
    rate === null ? null : rateWindowSeconds(rate.perSeconds),
  ]);
  return result.rows.map((row) => ({
    jobId: row.id,
    ref: row.ref,
    attempts: row.attempts,
    dead: row.dead,
    alone: row.alone,
  }));
}

/** Removes succeeded jobs still held by `worker` at their claimed attempt; returns their refs. */
export async function completeJobs(
  sql: Sql,
  worker: string,
  jobs: readonly ClaimedJob[],
): Promise<Set<string>> {
  if (jobs.length === 0) return new Set();
  const result = await sql.query<{ ref: string }>(
    'SELECT ref FROM complete_queue_jobs($1, $2::bigint[], $3::integer[])',
    [worker, jobs.map((job) => job.jobId), jobs.map((job) => job.attempts)],
  );
  return new Set(result.rows.map((row) => row.ref));
}

export interface JobFailure {
  job: ClaimedJob;
  error: string;
  permanent: boolean;
  retryAfterSeconds: number | null;
}

/** Settles failed calls of jobs still held; returns the new status by ref (absent: lease lost). */
export async function failJobs(
  sql: Sql,
  worker: string,
  failures: readonly JobFailure[],
  settings: KindSettings,
  jitter: number | null,
): Promise<Map<string, 'failed' | 'dead_letter'>> {
  if (failures.length === 0) return new Map();
  const result = await sql.query<{ ref: string; status: 'failed' | 'dead_letter' }>(
    `SELECT ref, status FROM fail_queue_jobs($1, $2::bigint[], $3::integer[], $4::text[], $5::boolean[],
                                            $6::double precision[], $7, $8, $9, $10)`,
    [
      worker,
      failures.map((f) => f.job.jobId),
      failures.map((f) => f.job.attempts),
      failures.map((f) => f.error),
      failures.map((f) => f.permanent),
      failures.map((f) => f.retryAfterSeconds),
      settings.maxAttempts,
      settings.backoff.baseSeconds,
      settings.backoff.capSeconds,
      jitter,
    ],
  );
  return new Map(result.rows.map((row) => [row.ref, row.status]));
}

/** Adds a batch's settled and failed jobs to the loop's throughput bucket (in the settle's transaction). */
export async function countThroughput(
  sql: Sql,
  kind: string,
  shard: string,
  settled: number,
  failed: number,
) {
  if (settled + failed === 0) return;
  await sql.query('SELECT count_queue_throughput($1, $2, \'{""}\', ARRAY[$3::integer], ARRAY[$4::integer])', [
    kind,
    shard,
    settled,
    failed,
  ]);
}

/** Deletes throughput buckets older than a day; returns how many. */
export async function purgeThroughput(pool: Pool, worker: string): Promise<number> {
  const rows = await queryInContext<{ n: number }>(
    pool,
    workerContext(worker),
    'purge_queue_throughput() AS n',
    [],
  );
  return rows[0]?.n ?? 0;
}

/** Gives back claimed jobs whose call never started (stopping). */
export async function releaseJobs(pool: Pool, worker: string, jobs: readonly ClaimedJob[]): Promise<number> {
  if (jobs.length === 0) return 0;
  const rows = await queryInContext<{ n: number }>(
    pool,
    workerContext(worker),
    'release_queue_jobs($1, $2::bigint[], $3::integer[]) AS n',
    [worker, jobs.map((job) => job.jobId), jobs.map((job) => job.attempts)],
  );
  return rows[0]?.n ?? 0;
}

export interface QueueStat {
  kind: string;
  /** The provider, for webhook events; empty otherwise. */
  label: string;
  state: 'pending' | 'failed' | 'in_flight' | 'interrupted' | 'dead_letter' | 'needs_reconcile';
  items: number;
  oldestSeconds: number | null;
}

/** Unsettled work of every kind, for the gauges, /admin and `carebook status`. */
export async function queueStats(pool: Pool): Promise<QueueStat[]> {
  const rows = await queryInContext<{
    kind: string;
    label: string;
    state: QueueStat['state'];
    items: string;
    oldest_seconds: number | null;
  }>(pool, workerContext('stats'), 'queue_stats()', []);
  return rows.map((row) => ({
    kind: row.kind,
    label: row.label,
    state: row.state,
    items: Number(row.items),
    oldestSeconds: row.oldest_seconds,
  }));
}
