// The queue engine: for each kind, `concurrency` loops that claim and handle batches, woken by
// LISTEN/NOTIFY (polling as the fallback), with per-kind metrics. Any number of worker processes
// share the queues (SKIP LOCKED). stop() claims nothing more, lets the batches in hand finish
// (an in-transaction batch settles what it handled and leaves the rest; a claim–call–settle batch
// awaits its calls) and gives back what it had not started.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Pool } from '../db/pool.js';
import type { Metrics } from '../observability/metrics.js';
import { runCallPipeline } from './call-pipeline.js';
import { runCallBatch } from './claim-call-settle.js';
import { type BatchResult, type BatchRun, MAX_SAVEPOINTS, runInTransactionBatch } from './in-transaction.js';
import type { QueueKind } from './kind.js';
import { purgeThroughput } from './store.js';
import { Listener, Wakeup } from './wakeup.js';

/** How often a worker deletes throughput buckets past their day (any worker may; it is idempotent). */
const HOUSEKEEPING_MS = 10 * 60_000;

export interface QueueWorkerOptions {
  pool: Pool;
  /** For the LISTEN connection (a pooled connection cannot hold one); null: poll only. */
  listenUrl: string | null;
  logger: Logger;
  metrics: Metrics;
  kinds: readonly QueueKind[];
  workerId?: string;
  /** Idle wait between polls (default 2 s with LISTEN, 500 ms without). */
  pollMs?: number;
  /** Full-jitter draw in [0, 1]; tests fix it to make backoff deterministic. Default: random. */
  jitter?: number | null;
}

interface KindState {
  kind: QueueKind;
  wakeup: Wakeup;
  /** In-transaction kinds: the next claim's size (smaller after a batch hit MAX_SAVEPOINTS). */
  limit: number;
  /** In-transaction kinds: whether the next claim looks at retries first (alternates). */
  retryFirst: boolean;
}

export class QueueWorker {
  readonly id: string;
  private stopping = false;
  private loops: Promise<void>[] = [];
  private listener: Listener | null = null;
  private housekeeping: NodeJS.Timeout | null = null;
  private readonly kinds = new Map<string, KindState>();
  private readonly run: BatchRun;

  constructor(private readonly options: QueueWorkerOptions) {
    this.id = options.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    for (const kind of options.kinds) {
      this.kinds.set(kind.name, {
        kind,
        wakeup: new Wakeup(),
        limit: kind.settings.batchSize,
        retryFirst: false,
      });
    }
    this.run = {
      pool: options.pool,
      worker: this.id,
      logger: options.logger,
      jitter: options.jitter ?? null,
      stopping: () => this.stopping,
      count: (kind, outcome, items = 1) => options.metrics.queueSettled.inc({ kind, outcome }, items),
    };
  }

  start(): void {
    const states = [...this.kinds.values()];
    if (this.options.listenUrl !== null) {
      this.listener = new Listener(
        this.options.listenUrl,
        states.map(({ kind, wakeup }) => ({ wake: kind.wake, wakeup })),
        this.options.logger,
      );
      this.listener.start();
    }
    for (const state of states) {
      for (let i = 0; i < state.kind.settings.concurrency; i++) this.loops.push(this.loop(state, i));
    }
    const purge = () =>
      purgeThroughput(this.options.pool, this.id).catch((error: unknown) =>
        this.options.logger.warn({ err: error }, 'queue housekeeping failed; it runs again later'),
      );
    this.housekeeping = setInterval(purge, HOUSEKEEPING_MS);
    this.housekeeping.unref();
  }

  /** Stops claiming, finishes the batches in hand, gives back the rest. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.housekeeping) clearInterval(this.housekeeping);
    for (const state of this.kinds.values()) state.wakeup.wake();
    await Promise.all(this.loops);
    await this.listener?.stop();
    this.listener = null;
  }

  /** Claims and handles one batch of a kind (the first one by default); returns how many items it claimed. */
  async runOnce(kindName?: string): Promise<number> {
    return (await this.batch(this.state(kindName), 0)).claimed;
  }

  /** Runs batches of every kind until none has anything due (tests, benchmarks, `carebook worker --drain`). */
  async drain(kindName?: string): Promise<number> {
    const states = kindName === undefined ? [...this.kinds.values()] : [this.state(kindName)];
    let total = 0;
    for (let busy = true; busy && !this.stopping; ) {
      busy = false;
      for (const state of states) {
        const claimed = await this.runOnce(state.kind.name);
        if (claimed > 0) busy = true;
        total += claimed;
      }
    }
    return total;
  }

  private state(kindName: string | undefined): KindState {
    const state = kindName === undefined ? this.kinds.values().next().value : this.kinds.get(kindName);
    if (!state) throw new Error(`no queue kind ${kindName ?? '(none registered)'}`);
    return state;
  }

  /** One batch; `loop` (the loop's number) keys its queue_throughput row. */
  private async batch(state: KindState, loop: number): Promise<BatchResult> {
    const { kind } = state;
    const shard = `${this.id}/${loop}`;
    if (kind.mode === 'claim_call_settle')
      return runCallBatch(this.run, kind, { limit: kind.settings.batchSize, shard });
    const retryFirst = state.retryFirst;
    state.retryFirst = !retryFirst;
    const result = await runInTransactionBatch(this.run, kind, { limit: state.limit, retryFirst, shard });
    // After a batch that stopped at the savepoint cap, claim about what one transaction handles.
    state.limit = result.truncated
      ? Math.max(MAX_SAVEPOINTS, result.settled)
      : Math.min(kind.settings.batchSize, state.limit * 2);
    return result;
  }

  private async loop(state: KindState, loop: number): Promise<void> {
    const idleMs = this.options.pollMs ?? (this.options.listenUrl ? 2000 : 500);
    let failures = 0;
    const { kind } = state;
    // Claim–call–settle: a pipeline keeps the calls in flight (call-pipeline.ts).
    if (kind.mode === 'claim_call_settle') {
      await runCallPipeline(this.run, kind, `${this.id}/${loop}`, () => state.wakeup.wait(idleMs));
      return;
    }
    while (!this.stopping) {
      try {
        const { claimed } = await this.batch(state, loop);
        failures = 0;
        if (claimed === 0 && !this.stopping) await state.wakeup.wait(idleMs);
      } catch (error) {
        failures += 1;
        this.options.logger.error(
          { err: error, worker: this.id, kind: state.kind.name },
          'queue batch failed; its items are claimed again (their attempt counted)',
        );
        if (!this.stopping) await state.wakeup.wait(Math.min(30_000, 500 * 2 ** failures));
      }
    }
  }
}
