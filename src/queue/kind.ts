// What a queue kind is: a name, how it is woken, its settings, and either an in-transaction store
// and handlers (pure-SQL effects: claim, effect and settlement commit together) or a
// claim–call–settle definition (an HTTP call made with no transaction open). The engine
// (src/queue/worker.ts) runs any number of kinds; each capability defines its own.
import type { Sql } from '../db/pool.js';

export interface KindSettings {
  /** Items claimed together. */
  batchSize: number;
  /** Batches one worker process runs at the same time. */
  concurrency: number;
  /** Claim–call–settle: how long a claimed job is reserved for its call. */
  leaseSeconds: number;
  /**
   * Claim–call–settle: calls of one batch made at the same time (default: all of it). A batch
   * larger than this amortises its claim and settle over more calls, as a local queue does.
   */
  callsInFlight?: number;
  /** Attempts (crashes included) before an item becomes a dead letter. */
  maxAttempts: number;
  /** Full-jitter backoff over min(cap, base · 2^(attempts − 1)) seconds. */
  backoff: { baseSeconds: number; capSeconds: number };
  /** At most `max` calls in any `perSeconds`, across all workers (claims keep a guard: rateWindowSeconds). */
  rateLimit?: { max: number; perSeconds: number } | null;
}

/** enqueue_queue_job and replay_queue_jobs NOTIFY this channel, with the job's kind as payload. */
export const QUEUE_CHANNEL = 'carebook_queue';

/** The NOTIFY that wakes a kind's loops (polling covers a missed one). */
export interface Wake {
  channel: string;
  /** Only notifications with this payload; any payload when absent. */
  payload?: string;
}

/** Thrown by a handler or a call: the item can never succeed as it is (straight to dead letters). */
export class PermanentError extends Error {
  override name = 'PermanentError';
}

/** Thrown by a call the provider asked to repeat later (HTTP 429 or 503 with Retry-After). */
export class RetryLaterError extends Error {
  override name = 'RetryLaterError';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

export interface QueueItem {
  id: string;
  attempts: number;
}

/** What the engine decided for an item, for metrics and a kind's own counters. */
export type Outcome = 'success' | 'ignored' | 'failed' | 'dead_letter';

/** Outcomes as counted: `lease_lost` is a settle that changed nothing (another worker held the job). */
export const COUNTED_OUTCOMES = ['success', 'ignored', 'failed', 'dead_letter', 'lease_lost'] as const;
export type CountedOutcome = (typeof COUNTED_OUTCOMES)[number];

interface KindBase {
  name: string;
  settings: KindSettings;
  wake: Wake;
  /**
   * Transaction-local settings every transaction of the kind runs with: what the SQL its items
   * cause needs from the configuration (the reminder offsets of a booking a payment confirms).
   */
  transactionSettings?: Readonly<Record<string, string>>;
}

/** The effect of one item in the batch's transaction; resolves to a note saying what it did. */
export type ItemHandler<I> = (sql: Sql, item: I) => Promise<string>;

export interface FailedItem<I> {
  item: I;
  error: string;
  permanent: boolean;
}

export interface InTransactionSettlement<I> {
  batch: string;
  worker: string;
  /** The worker loop's key for queue_throughput (loops never share a row). */
  shard: string;
  done: Array<{ item: I; note: string }>;
  failed: FailedItem<I>[];
  /** Full-jitter draw for the backoff; null: a fresh random draw per item. */
  jitter: number | null;
}

export interface SettleStatement {
  text: string;
  values: unknown[];
  /** The new status of each failed item, read from the statement's rows. */
  statuses(rows: Array<Record<string, unknown>>): Map<string, Outcome>;
}

export interface SettledItem<I extends QueueItem = QueueItem> {
  item: I;
  outcome: Outcome;
}

/**
 * Settled items grouped by `key`: one of each group and the group's size, so that a metric is
 * counted once a group, not once an item (a labelled counter's lookup cost a microsecond an item).
 */
export function groupSettled<I extends QueueItem>(
  settled: ReadonlyArray<SettledItem<I>>,
  key: (settled: SettledItem<I>) => string,
): Array<{ sample: SettledItem<I>; items: number }> {
  const groups = new Map<string, { sample: SettledItem<I>; items: number }>();
  for (const one of settled) {
    const group = groups.get(key(one));
    if (group) group.items += 1;
    else groups.set(key(one), { sample: one, items: 1 });
  }
  return [...groups.values()];
}

export interface InTransactionKind<I extends QueueItem = QueueItem> extends KindBase {
  mode: 'in_transaction';
  /**
   * In the batch's transaction: a new batch id (whose advisory lock the transaction holds) and up
   * to `limit` items locked FOR UPDATE SKIP LOCKED, or one item due for a retry. Batches that did
   * not commit are recovered here first (their attempts counted).
   */
  claim(sql: Sql, request: { limit: number; retryFirst: boolean }): Promise<{ batch: string; items: I[] }>;
  /** The item's handler, or a note when there is nothing to do (no SQL runs, no savepoint). */
  handlerFor(item: I): ItemHandler<I> | string;
  /**
   * The one statement that settles the handled items in the batch's transaction. One, because on
   * a pipelined connection the COMMIT is sent right behind it: a second statement would run after
   * the commit.
   */
  settle(settlement: InTransactionSettlement<I>): SettleStatement;
  /** Called once after commit with every item the batch settled (kind-specific metrics). */
  observe?(settled: ReadonlyArray<SettledItem<I>>): void;
}

/** A claimed job: the fence a settle must present (its id and the attempt it was claimed at). */
export interface ClaimedJob {
  jobId: string;
  ref: string;
  attempts: number;
  /** Claimed after its lease ran out: the attempt before never settled, so its outcome is unknown. */
  alone?: boolean;
}

export interface CallKind<I extends { ref: string }, R = string> extends KindBase {
  mode: 'claim_call_settle';
  /** In the claim's transaction: the records the claimed jobs work on, by ref. */
  load(sql: Sql, jobs: readonly ClaimedJob[]): Promise<I[]>;
  /** The provider call, with no transaction open. `signal` aborts it as the lease runs out. */
  call(item: I, job: ClaimedJob, signal: AbortSignal): Promise<R>;
  /** In the settle's transaction, for jobs still held (fenced): record the results. */
  recordSuccess(sql: Sql, done: Array<{ item: I; job: ClaimedJob; result: R }>): Promise<void>;
  /**
   * In the settle's (or claim's, for buried jobs) transaction: record failures and dead letters.
   * `thrown` is what the call threw (absent for a buried job).
   */
  recordFailure(
    sql: Sql,
    failed: Array<{ ref: string; error: string; status: 'failed' | 'dead_letter'; thrown?: unknown }>,
  ): Promise<void>;
  /** In the replay's transaction (as the admin role): the records of replayed jobs are due again. */
  recordReplay(sql: Sql, refs: readonly string[]): Promise<void>;
}

// biome-ignore lint/suspicious/noExplicitAny: a registry holds kinds of any item type
export type QueueKind = InTransactionKind<any> | CallKind<any, any>;

/**
 * The window claims are counted in: the provider's, plus a guard (a tenth of it, at least 250 ms)
 * against the calls of one window reaching the provider later than those of the next.
 */
export function rateWindowSeconds(perSeconds: number): number {
  return perSeconds + Math.max(perSeconds * 0.1, 0.25);
}
