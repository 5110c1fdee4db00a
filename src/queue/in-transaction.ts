// One batch of an in-transaction kind: claim (FOR UPDATE SKIP LOCKED), effects and settlement in
// ONE transaction, so each item is written once and its effect commits with its status.
// - Before the first handler runs, the batch is recorded on a second connection (committed): if
//   the process dies, the next claim finds the record with its lock free and counts the attempt.
//   A batch in which no handler runs (every item settled with a note) has nothing to guard.
// - A handler that runs SQL gets a savepoint on its first statement, so a failure rolls back only
//   its own effects; a handler that decides without SQL costs no savepoint.
// - The settle is one statement. On a pipelined connection the COMMIT leaves right behind it (one
//   round trip less); a settle that fails makes that COMMIT a rollback, and the batch throws the
//   settle's own error.
// - Savepoints that write use subtransaction ids, and past 64 in one transaction PostgreSQL's
//   snapshots slow down for every session: a batch stops after MAX_SAVEPOINTS handlers that ran
//   SQL. Items it did not handle are simply not settled — the commit releases their locks.
import type { QueryResultRow } from 'pg';
import type { Logger } from 'pino';
import type { Pool, Sql } from '../db/pool.js';
import { preparedStatements, sendAheadOfCommit, withTenant } from '../db/tenant.js';
import {
  type CountedOutcome,
  type FailedItem,
  groupSettled,
  type InTransactionKind,
  type Outcome,
  PermanentError,
  type QueueItem,
  type SettledItem,
} from './kind.js';
import { recordBatch, workerContext } from './store.js';

export const MAX_SAVEPOINTS = 50;

export interface BatchRun {
  pool: Pool;
  worker: string;
  logger: Logger;
  /** Full-jitter draw; null: random per item. */
  jitter: number | null;
  stopping: () => boolean;
  /** Counts a settled item (the engine's per-kind metrics). */
  count: (kind: string, outcome: CountedOutcome, items?: number) => void;
}

export interface BatchResult {
  claimed: number;
  /** Items settled (the rest of a claim was left for the next one). */
  settled: number;
  /** The batch stopped at MAX_SAVEPOINTS: claim fewer next time. */
  truncated: boolean;
}

/** The transaction as one handler sees it: its first statement opens the item's savepoint. */
class ItemTransaction implements Sql {
  opened = false;
  constructor(private readonly sql: Sql) {}

  async query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]) {
    if (!this.opened) {
      this.opened = true;
      // Not released after success: nesting costs nothing more, and saves a round trip.
      await this.sql.query('SAVEPOINT queue_item');
    }
    return this.sql.query<R>(text, values);
  }
}

export async function runInTransactionBatch<I extends QueueItem>(
  run: BatchRun,
  kind: InTransactionKind<I>,
  request: { limit: number; retryFirst: boolean; shard: string },
): Promise<BatchResult> {
  let settling: Promise<Map<string, Outcome>> | null = null;
  const outcome = await withTenant(
    run.pool,
    workerContext(run.worker),
    async (client) => {
      const sql = preparedStatements(run.pool, client);
      const { batch, items } = await kind.claim(sql, request);
      if (items.length === 0) return { claimed: 0, done: [], failed: [], truncated: false };
      let recorded: Promise<void> | null = null;
      const record = () =>
        (recorded ??= recordBatch(
          run.pool,
          run.worker,
          kind.name,
          batch,
          items.map((item) => item.id),
        ));
      const done: Array<{ item: I; note: string }> = [];
      const failed: FailedItem<I>[] = [];
      let savepoints = 0;
      let truncated = false;
      for (const item of items) {
        if (run.stopping()) break;
        const handler = kind.handlerFor(item);
        if (typeof handler === 'string') {
          done.push({ item, note: handler });
          continue;
        }
        if (savepoints >= MAX_SAVEPOINTS) {
          truncated = true;
          break;
        }
        await record(); // durable before any effect runs
        const view = new ItemTransaction(sql);
        try {
          done.push({ item, note: await handler(view, item) });
        } catch (error) {
          if (view.opened) await sql.query('ROLLBACK TO SAVEPOINT queue_item');
          const message = error instanceof Error ? error.message : String(error);
          failed.push({ item, error: message, permanent: error instanceof PermanentError });
        }
        if (view.opened) savepoints += 1;
      }
      const settle = kind.settle({
        batch,
        worker: run.worker,
        shard: request.shard,
        done,
        failed,
        jitter: run.jitter,
      });
      settling = sql.query(settle.text, settle.values).then((result) => settle.statuses(result.rows));
      await sendAheadOfCommit(client, settling);
      return { claimed: items.length, done, failed, truncated };
    },
    kind.transactionSettings,
  );
  const statuses = (await settling) ?? new Map<string, Outcome>();
  const settled: Array<SettledItem<I>> = outcome.done.map(({ item, note }) => ({
    item,
    outcome: note.startsWith('ignored') ? 'ignored' : 'success',
  }));
  for (const { item, error } of outcome.failed) {
    const result = statuses.get(item.id) ?? 'failed';
    // Ids and the error only: payloads may carry patient data.
    run.logger.warn(
      { kind: kind.name, item: item.id, attempts: item.attempts + 1, status: result, error },
      'queue item failed',
    );
    settled.push({ item, outcome: result });
  }
  for (const { sample, items } of groupSettled(settled, (one) => one.outcome))
    run.count(kind.name, sample.outcome, items);
  if (settled.length > 0) kind.observe?.(settled);
  return { claimed: outcome.claimed, settled: settled.length, truncated: outcome.truncated };
}
