// The webhook worker: wakes on LISTEN/NOTIFY (polling as a fallback), claims a batch with a lease,
// and handles it in ONE transaction with a savepoint per event, so that each event's business
// effect and its `success` commit together. A failing event rolls back to its savepoint and is
// settled as failed (backoff) or dead_letter in that same transaction; the others commit.
// On stop() it claims nothing more, finishes the batch in hand and gives back what it had not
// started. Any number of workers can share the queue (SKIP LOCKED + leases).
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import pg from 'pg';
import type { Logger } from 'pino';
import type { WorkerConfig } from '../config.js';
import type { Pool } from '../db/pool.js';
import { withTenant } from '../db/tenant.js';
import type { Metrics } from '../observability/metrics.js';
import { type ClaimedEvent, handlerFor, PermanentEventError } from './handlers/index.js';
import { claimEvents, completeEvents, failEvent, releaseEvents, workerContext } from './queue.js';

export const NOTIFY_CHANNEL = 'carebook_webhook_events';

/** Events committed per transaction. More would overflow PostgreSQL's 64 cached subtransactions. */
const MAX_EVENTS_PER_TRANSACTION = 50;

export interface WorkerOptions {
  pool: Pool;
  /** For the LISTEN connection (a pooled connection cannot hold a LISTEN). */
  databaseUrl: string;
  logger: Logger;
  metrics: Metrics;
  config: WorkerConfig;
  workerId?: string;
  pollMs?: number;
  /** Full-jitter draw in [0, 1]; tests fix it to make backoff deterministic. */
  jitter?: () => number;
}

class LeaseLostError extends Error {}

export class WebhookWorker {
  readonly id: string;
  private stopping = false;
  private loops: Promise<void>[] = [];
  private listener: pg.Client | null = null;
  private wake: (() => void) | null = null;
  private wakeSignal: Promise<void>;

  constructor(private readonly options: WorkerOptions) {
    this.id = options.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.wakeSignal = this.newWakeSignal();
  }

  start(): void {
    void this.listen();
    for (let i = 0; i < this.options.config.concurrency; i++) this.loops.push(this.loop());
  }

  /** Stops claiming, finishes the batches in hand, gives back the rest. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await Promise.all(this.loops);
    await this.listener?.end().catch(() => {});
    this.listener = null;
  }

  /** Claims and handles one batch; returns how many events it settled or gave back. */
  async runOnce(): Promise<number> {
    const events = await claimEvents(
      this.options.pool,
      this.id,
      this.options.config.batchSize,
      this.options.config.leaseSeconds,
    );
    for (let start = 0; start < events.length; start += MAX_EVENTS_PER_TRANSACTION) {
      const chunk = events.slice(start, start + MAX_EVENTS_PER_TRANSACTION);
      if (this.stopping) {
        await releaseEvents(
          this.options.pool,
          this.id,
          events.slice(start).map((event) => event.id),
        );
        break;
      }
      await this.handleChunk(chunk);
    }
    return events.length;
  }

  /** Runs batches until none is due (tests, benchmarks, `carebook worker --drain`). */
  async drain(): Promise<number> {
    let total = 0;
    while (!this.stopping) {
      const handled = await this.runOnce();
      if (handled === 0) break;
      total += handled;
    }
    return total;
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      try {
        const handled = await this.runOnce();
        failures = 0;
        if (handled === 0) await this.idle(this.options.pollMs ?? 2000);
      } catch (error) {
        failures += 1;
        this.options.logger.error(
          { err: error, worker: this.id },
          'worker batch failed; its events return when their lease ends',
        );
        await this.idle(Math.min(30_000, 500 * 2 ** failures));
      }
    }
  }

  private async handleChunk(events: ClaimedEvent[]): Promise<void> {
    const { pool, metrics, logger } = this.options;
    const done: ClaimedEvent[] = [];
    const notes: string[] = [];
    const failed: Array<{ event: ClaimedEvent; outcome: string }> = [];
    try {
      await withTenant(pool, workerContext(this.id), async (client) => {
        for (const event of events) {
          const handler = handlerFor(event);
          if (!handler) {
            done.push(event);
            notes.push(`ignored: no handler for ${event.eventType}`);
            continue;
          }
          await client.query('SAVEPOINT event');
          try {
            notes.push(await handler(client, event));
            await client.query('RELEASE SAVEPOINT event');
            done.push(event);
          } catch (error) {
            await client.query('ROLLBACK TO SAVEPOINT event');
            const permanent = error instanceof PermanentEventError;
            const message = error instanceof Error ? error.message : String(error);
            const status = await failEvent(client, this.id, event.id, message, permanent, {
              maxAttempts: this.options.config.maxAttempts,
              jitter: this.options.jitter ?? Math.random,
            });
            // Ids and types only: payloads may carry patient data.
            logger.warn(
              { event: event.id, type: event.eventType, attempts: event.attempts, status, error: message },
              'webhook event failed',
            );
            failed.push({ event, outcome: status ?? 'lease_lost' });
          }
        }
        const completed = await completeEvents(
          client,
          this.id,
          done.map((event) => event.id),
          notes,
        );
        if (completed !== done.length)
          throw new LeaseLostError(`${done.length - completed} lease(s) expired mid-batch`);
      });
    } catch (error) {
      if (!(error instanceof LeaseLostError)) throw error;
      logger.warn(
        { worker: this.id, err: error },
        'batch rolled back: another worker took over expired leases',
      );
      return;
    }
    for (const [index, event] of done.entries()) {
      metrics.webhookProcessed.inc({
        provider: event.provider,
        outcome: notes[index]?.startsWith('ignored') ? 'ignored' : 'success',
      });
    }
    for (const { event, outcome } of failed)
      metrics.webhookProcessed.inc({ provider: event.provider, outcome });
  }

  private newWakeSignal(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        this.wakeSignal = this.newWakeSignal();
        resolve();
      };
    });
  }

  private idle(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      this.wakeSignal,
      new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
    ]).finally(() => clearTimeout(timer));
  }

  /** LISTEN on a dedicated connection; on any failure, reconnect later (polling covers the gap). */
  private async listen(): Promise<void> {
    while (!this.stopping) {
      const client = new pg.Client({
        connectionString: this.options.databaseUrl,
        application_name: 'carebook-worker-listen',
      });
      const closed = new Promise<void>((resolve) => {
        client.on('error', () => resolve());
        client.on('end', () => resolve());
      });
      try {
        await client.connect();
        client.on('notification', () => this.wake?.());
        await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
        this.listener = client;
        if (this.stopping) await client.end();
        await closed;
      } catch (error) {
        this.options.logger.warn({ err: error }, 'worker LISTEN connection failed; polling until it is back');
        await client.end().catch(() => {});
      }
      this.listener = null;
      await this.idle(5000);
    }
  }
}
