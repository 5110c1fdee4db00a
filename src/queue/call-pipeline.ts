// A claim–call–settle loop that keeps its calls in flight: `callsInFlight` lanes take jobs from a
// local queue, which is refilled by a new claim (batchSize jobs) as soon as it holds fewer than
// two calls a lane, while calls still run (at one a lane, the lanes ran dry during the claim);
// results are settled in batches, one settle at a time, without stopping the calls. So neither a
// claim nor a commit leaves the lanes idle, as a claim-then-call batch would. Each job keeps the
// lease (and the call deadline) of the claim that brought it.

import { type CallResult, type ClaimedBatch, callOne, claimBatch, settleBatch } from './claim-call-settle.js';
import type { BatchRun } from './in-transaction.js';
import type { CallKind, ClaimedJob } from './kind.js';
import { releaseJobs } from './store.js';
import { Wakeup } from './wakeup.js';

interface Queued<I> {
  entry: ClaimedBatch<I>['jobs'][number];
  signal: AbortSignal;
  alone: boolean;
}

export async function runCallPipeline<I extends { ref: string }, R>(
  run: BatchRun,
  kind: CallKind<I, R>,
  shard: string,
  /** Waits for new work (a NOTIFY or the poll interval) when there is none. */
  idle: () => Promise<void>,
): Promise<void> {
  const lanes = Math.max(1, kind.settings.callsInFlight ?? kind.settings.batchSize);
  const queue: Queued<I>[] = [];
  let results: CallResult<I, R>[] = [];
  let active = 0;
  /** A job claimed alone is running or settling: whatever stopped the worker that had it must not take others. */
  let aloneRunning = false;
  let claiming: Promise<number> | null = null;
  let settling: Promise<unknown> = Promise.resolve();
  const laneFree = new Wakeup();

  const claim = (): Promise<number> => {
    claiming ??= claimBatch(run, kind, kind.settings.batchSize)
      .then((batch) => {
        for (const entry of batch.jobs) queue.push({ entry, signal: batch.signal, alone: batch.alone });
        return batch.jobs.length + batch.buried;
      })
      .finally(() => {
        claiming = null;
      });
    return claiming;
  };
  const flush = () => {
    if (results.length === 0) return;
    const batch = { claimed: results.length, buried: 0, results };
    results = [];
    settling = settling
      .then(() => settleBatch(run, kind, shard, batch))
      .catch((error: unknown) =>
        run.logger.error(
          { err: error, worker: run.worker, kind: kind.name },
          'queue settle failed; its jobs are claimed again when their leases end',
        ),
      );
  };
  const start = (next: Queued<I>) => {
    active += 1;
    aloneRunning = next.alone;
    void callOne(kind, next.entry, next.signal).then((result) => {
      results.push(result);
      active -= 1;
      if (next.alone) {
        // Its outcome is committed before anything else runs: a claim made while its settle waits
        // could take it again (its lease may have run out during the call) and count an attempt.
        flush();
        void settling.then(() => {
          aloneRunning = false;
          laneFree.wake();
        });
      }
      // Settle a full batch's worth, or whatever is left when the queue has run dry.
      if (results.length >= kind.settings.batchSize || (queue.length === 0 && active === 0)) flush();
      laneFree.wake();
    });
  };

  let failures = 0;
  while (!run.stopping()) {
    try {
      // No claim ahead of a job claimed alone: the next claim waits for its outcome (it may be
      // the poison that stopped its last worker, and a job claimed meanwhile would share its fate).
      const recovering = aloneRunning || queue.some((queued) => queued.alone);
      if (queue.length < 2 * lanes && claiming === null && !recovering) void claim().catch(() => {});
      if (queue.length === 0) {
        if (aloneRunning) {
          await laneFree.wait(1000);
          continue;
        }
        const claimed = claiming === null ? 0 : await claiming;
        failures = 0;
        if (claimed === 0 && queue.length === 0) {
          // Nothing due: let the calls in flight finish and settle, then wait for new work.
          while (active > 0) await laneFree.wait(1000);
          flush();
          await idle();
        }
        continue;
      }
      const alone = queue[0]?.alone === true;
      if (active >= lanes || aloneRunning || (alone && active > 0)) {
        await laneFree.wait(1000);
        continue;
      }
      start(queue.shift() as Queued<I>);
    } catch (error) {
      failures += 1;
      run.logger.error(
        { err: error, worker: run.worker, kind: kind.name },
        'queue claim failed; trying again',
      );
      await new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 500 * 2 ** failures)));
    }
  }
  // Stopping: calls in flight finish and are settled; jobs never started are given back.
  await (claiming as Promise<number> | null)?.catch(() => 0);
  const unstarted: ClaimedJob[] = queue.splice(0).map((queued) => queued.entry.job);
  if (unstarted.length > 0) await releaseJobs(run.pool, run.worker, unstarted).catch(() => 0);
  while (active > 0) await laneFree.wait(1000);
  flush();
  await settling;
}
