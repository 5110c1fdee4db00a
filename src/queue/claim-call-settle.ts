// One batch of a claim–call–settle kind: lease jobs and commit; call the provider for each with no
// transaction open (the calls of a batch run side by side); settle in a new transaction fenced by
// the lease. A worker whose lease ran out, and whose job another worker claimed meanwhile, changes
// nothing and says so. The claim commits the attempt, so a call that kills its worker every time
// still ends in the dead letters; a job whose lease ran out is claimed alone next time, so it takes
// no other job down with it (claim_queue_jobs).
import { preparedStatements, withTenant } from '../db/tenant.js';
import type { BatchResult, BatchRun } from './in-transaction.js';
import { type CallKind, type ClaimedJob, PermanentError, RetryLaterError } from './kind.js';
import {
  claimJobs,
  completeJobs,
  countThroughput,
  failJobs,
  type JobFailure,
  releaseJobs,
  workerContext,
} from './store.js';

/** A call may use this share of its lease; then it is aborted, so that it ends before the lease. */
const CALL_SHARE_OF_LEASE = 0.8;

export type CallResult<I, R> =
  | { job: ClaimedJob; item: I; result: R }
  | (JobFailure & { item: I | undefined; thrown?: unknown });

/** A batch whose calls are done: what its settle needs. */
export interface CalledBatch<I, R> {
  /** Jobs claimed, buried ones included. */
  claimed: number;
  buried: number;
  results: CallResult<I, R>[];
}

/** Claims, calls and settles one batch (runOnce, drain); a loop runs the pipeline (call-pipeline.ts) instead. */
export async function runCallBatch<I extends { ref: string }, R>(
  run: BatchRun,
  kind: CallKind<I, R>,
  options: { limit: number; shard: string },
): Promise<BatchResult> {
  return settleBatch(run, kind, options.shard, await callBatch(run, kind, options.limit));
}

/** Jobs leased in one claim, with their records and the signal that ends their calls before the lease. */
export interface ClaimedBatch<I> {
  jobs: Array<{ job: ClaimedJob; item: I | undefined }>;
  buried: number;
  signal: AbortSignal;
  /** A job whose lease ran out before: its call runs with no other call of the kind beside it. */
  alone: boolean;
}

/** Leases up to `limit` jobs and loads their records, in one transaction; buries exhausted ones. */
export async function claimBatch<I extends { ref: string }, R>(
  run: BatchRun,
  kind: CallKind<I, R>,
  limit: number,
): Promise<ClaimedBatch<I>> {
  // The claim locks the kind's rate-limit row until it commits. A worker paused inside it (a long
  // GC pause, a frozen VM, SIGSTOP) would stall every worker's claims of the kind for as long as
  // it stays paused; the server ends such a transaction once it has idled for a lease instead.
  const idleLimit = { idle_in_transaction_session_timeout: `${kind.settings.leaseSeconds}s` };
  const claimed = await withTenant(
    run.pool,
    workerContext(run.worker),
    async (client) => {
      const sql = preparedStatements(run.pool, client);
      const jobs = await claimJobs(sql, kind.name, run.worker, limit, kind.settings);
      const buried = jobs.filter((job) => job.dead);
      const live = jobs.filter((job) => !job.dead);
      if (buried.length > 0) {
        await kind.recordFailure(
          sql,
          buried.map((job) => ({
            ref: job.ref,
            error: `its lease ran out on each of its ${job.attempts} attempts`,
            status: 'dead_letter' as const,
          })),
        );
      }
      return {
        live,
        buried: buried.length,
        alone: jobs.some((job) => job.alone),
        items: live.length > 0 ? await kind.load(sql, live) : [],
      };
    },
    idleLimit,
  );
  if (claimed.buried > 0) run.count(kind.name, 'dead_letter', claimed.buried);
  const byRef = new Map(claimed.items.map((item) => [item.ref, item]));
  return {
    jobs: claimed.live.map((job) => ({ job, item: byRef.get(job.ref) })),
    buried: claimed.buried,
    signal: AbortSignal.timeout(kind.settings.leaseSeconds * 1000 * CALL_SHARE_OF_LEASE),
    alone: claimed.alone,
  };
}

/** One job's call, with no transaction open; a failure is returned, classified for its settle. */
export async function callOne<I extends { ref: string }, R>(
  kind: CallKind<I, R>,
  { job, item }: { job: ClaimedJob; item: I | undefined },
  signal: AbortSignal,
): Promise<CallResult<I, R>> {
  if (item === undefined) {
    return { job, item, error: 'its record no longer exists', permanent: true, retryAfterSeconds: null };
  }
  try {
    return { job, item, result: await kind.call(item, job, signal) };
  } catch (error) {
    return {
      job,
      item,
      thrown: error,
      error: error instanceof Error ? error.message : String(error),
      permanent: error instanceof PermanentError,
      retryAfterSeconds: error instanceof RetryLaterError ? error.retryAfterSeconds : null,
    };
  }
}

/** Leases a batch and makes its calls (at most callsInFlight at once) with no transaction open. */
export async function callBatch<I extends { ref: string }, R>(
  run: BatchRun,
  kind: CallKind<I, R>,
  limit: number,
): Promise<CalledBatch<I, R>> {
  const claimed = await claimBatch(run, kind, limit);
  const count = claimed.jobs.length + claimed.buried;
  const results: CallResult<I, R>[] = [];
  const unstarted: ClaimedJob[] = [];
  let next = 0;
  const lane = async () => {
    while (next < claimed.jobs.length) {
      const entry = claimed.jobs[next++]!;
      // A stop starts no more calls: those jobs are given back below.
      if (run.stopping()) unstarted.push(entry.job);
      else results.push(await callOne(kind, entry, claimed.signal));
    }
  };
  const lanes = Math.max(
    1,
    Math.min(kind.settings.callsInFlight ?? claimed.jobs.length, claimed.jobs.length),
  );
  await Promise.all(Array.from({ length: lanes }, lane));
  if (unstarted.length > 0) await releaseJobs(run.pool, run.worker, unstarted);
  return { claimed: count, buried: claimed.buried, results };
}

/** Settles a called batch in a new transaction, fenced by each job's lease. */
export async function settleBatch<I extends { ref: string }, R>(
  run: BatchRun,
  kind: CallKind<I, R>,
  shard: string,
  batch: CalledBatch<I, R>,
): Promise<BatchResult> {
  const { results } = batch;
  if (results.length === 0) return { claimed: batch.claimed, settled: batch.buried, truncated: false };
  const settled = await withTenant(run.pool, workerContext(run.worker), async (client) => {
    const sql = preparedStatements(run.pool, client);
    const succeeded = results.filter((r): r is { job: ClaimedJob; item: I; result: R } => 'result' in r);
    const held = await completeJobs(
      sql,
      run.worker,
      succeeded.map((r) => r.job),
    );
    const done = succeeded.filter((r) => held.has(r.job.ref));
    if (done.length > 0) await kind.recordSuccess(sql, done);
    const failures = results.filter(
      (r): r is JobFailure & { item: I | undefined; thrown?: unknown } => !('result' in r),
    );
    const statuses = await failJobs(sql, run.worker, failures, kind.settings, run.jitter);
    const failed = failures.flatMap((f) => {
      const status = statuses.get(f.job.ref);
      return status === undefined ? [] : [{ ref: f.job.ref, error: f.error, status, thrown: f.thrown }];
    });
    if (failed.length > 0) await kind.recordFailure(sql, failed);
    await countThroughput(sql, kind.name, shard, done.length, failed.length);
    return { done: done.length, failed, late: results.length - done.length - failed.length };
  });

  if (settled.late > 0) {
    run.count(kind.name, 'lease_lost', settled.late);
    run.logger.warn(
      { kind: kind.name, worker: run.worker, jobs: settled.late },
      'lease lost before the settle: another worker holds these jobs now, so these results change nothing',
    );
  }
  if (settled.done > 0) run.count(kind.name, 'success', settled.done);
  for (const failure of settled.failed) {
    run.logger.warn(
      { kind: kind.name, ref: failure.ref, status: failure.status, error: failure.error },
      'queue job failed',
    );
    run.count(kind.name, failure.status);
  }
  return {
    claimed: batch.claimed,
    settled: settled.done + settled.failed.length + batch.buried,
    truncated: false,
  };
}
