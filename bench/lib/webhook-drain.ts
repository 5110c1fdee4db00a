// Carebook's side of the in-transaction drain: N pending events in webhook_events drained by
// QueueWorker's own loops (start(), as `carebook worker` runs them) over the webhooks kind, in one
// of two variants:
// - `handler`: the kind of webhookKind() with a handler for every event that runs no SQL and
//   returns a note: the payload is fetched, the handler invoked and the batch recorded (the
//   second connection's write that lets a crash count its attempt) — the fair counterpart of
//   graphile-worker's no-op task;
// - `ignored`: the kind as it is, with an event type no handler knows: settled with an "ignored"
//   note, no handler runs, so no batch record is written.
// Checked afterwards: every settled event `success` after exactly one attempt with the variant's
// note, any left over untouched, and queue_batches empty.
import type pg from 'pg';
import { createPool } from '../../src/db/pool.js';
import { createMetrics } from '../../src/observability/metrics.js';
import type { InTransactionKind } from '../../src/queue/kind.js';
import { QueueWorker } from '../../src/queue/worker.js';
import type { ClaimedEvent } from '../../src/webhooks/handlers/index.js';
import { DEFAULT_INTEGRATIONS } from '../../src/webhooks/integrations.js';
import { webhookKind } from '../../src/webhooks/queue-kind.js';
import {
  beforeDeadline,
  bulk,
  Countdown,
  type DrainResult,
  prepareTables,
  problemLogger,
  startClock,
  stopClock,
  warm,
} from './drain.js';

export const IN_TRANSACTION_VARIANTS = ['handler', 'ignored'] as const;
export type InTransactionVariant = (typeof IN_TRANSACTION_VARIANTS)[number];

/** An event type no handler knows (the `ignored` variant's no-op). */
const NOOP_EVENT_TYPE = 'bench.noop';
/** What the `handler` variant's handler returns. */
const HANDLED_NOTE = 'bench: handled without SQL';
const BENCH_REQUEST_ID = '00000000-0000-4000-8000-0000000000b1';
export const EVENT_ID_PREFIX = 'evt_drain_';

/**
 * The payload of event (and graphile-worker job) number `i`: a small Stripe event envelope (about
 * 200 bytes), so both sides move and parse the same JSON.
 */
export const eventPayloadSql = (i: string) => `jsonb_build_object('id', '${EVENT_ID_PREFIX}' || ${i},
  'object', 'event', 'type', '${NOOP_EVENT_TYPE}', 'created', 1700000000, 'livemode', false,
  'data', jsonb_build_object('object', jsonb_build_object('id', 'pi_drain_' || ${i}, 'object', 'payment_intent',
                                                        'amount', 5000, 'currency', 'usd')))`;

export interface CarebookDrainOptions {
  admin: pg.Pool;
  databaseUrl: string;
  events: number;
  variant: InTransactionVariant;
  /** Loops in one QueueWorker (CAREBOOK_WORKER_CONCURRENCY). */
  concurrency: number;
  batchSize: number;
  /** Worker instances sharing the queue (as separate `carebook worker` processes would). */
  instances: number;
  poolMax: number;
  /** The run stops after this long even if events are left (they must then be untouched). */
  capMs: number;
}

async function loadEvents(admin: pg.Pool, events: number): Promise<void> {
  await admin.query('TRUNCATE webhook_events, webhook_requests, queue_batches, queue_throughput');
  // The drain reads events, not their stored request: one request row carries them all.
  await admin.query(
    `INSERT INTO webhook_requests (id, webhook_id, raw_body, signed_headers, request_url)
     VALUES ('${BENCH_REQUEST_ID}', '${DEFAULT_INTEGRATIONS.stripe}', '\\x7b7d',
             '{"stripe-signature": "t=1700000000,v1=00"}', 'https://api.clinic.example/webhooks/stripe')`,
  );
  await bulk(
    admin,
    events,
    (series) => `
    INSERT INTO webhook_events (webhook_id, provider, event_id, event_type, payload, signature, request_id)
    SELECT '${DEFAULT_INTEGRATIONS.stripe}', 'stripe', p.payload->>'id', '${NOOP_EVENT_TYPE}', p.payload,
           't=1700000000,v1=00', '${BENCH_REQUEST_ID}'
      FROM ${series}, LATERAL (SELECT ${eventPayloadSql('i')} AS payload) AS p`,
  );
  await prepareTables(admin, ['webhook_events']);
}

/** The webhooks kind for a variant, counting each event settled (after its batch commits). */
function benchKind(
  options: CarebookDrainOptions,
  metrics: ReturnType<typeof createMetrics>,
  settled: Countdown,
): InTransactionKind<ClaimedEvent> {
  const kind = webhookKind(
    {
      concurrency: options.concurrency,
      batchSize: options.batchSize,
      leaseSeconds: 60,
      maxAttempts: 8,
      metricsPort: 0,
    },
    metrics,
    [],
  );
  const handled = async () => HANDLED_NOTE;
  return {
    ...kind,
    handlerFor: options.variant === 'handler' ? () => handled : kind.handlerFor,
    observe(items) {
      kind.observe?.(items);
      settled.add(items.length);
    },
  };
}

/** Loads `events` pending events and times QueueWorker draining them; checks them after. */
export async function drainCarebook(options: CarebookDrainOptions): Promise<DrainResult> {
  const { admin, events } = options;
  await loadEvents(admin, events);
  // One pool per instance, as each worker process has its own; the connection budget is split.
  const perInstance = Math.max(2, Math.floor(options.poolMax / options.instances));
  const names = Array.from({ length: options.instances }, (_, i) => `carebook-worker-bench-${i}`);
  const pools = names.map((applicationName) =>
    createPool(options.databaseUrl, { max: perInstance, applicationName, pipeline: true }),
  );
  const metrics = createMetrics();
  const settled = new Countdown(events);
  const logged: string[] = [];
  try {
    const workers = pools.map(
      (pool, i) =>
        new QueueWorker({
          pool,
          listenUrl: null,
          logger: problemLogger(logged, `Carebook worker ${i}`),
          metrics,
          kinds: [benchKind(options, metrics, settled)],
          workerId: `bench-worker-${i}`,
        }),
    );
    await Promise.all(pools.map((pool) => warm(pool, perInstance)));
    const clock = await startClock({ ...options, applications: names });
    // The loops of start(), each with its own throughput row (runOnce loops would share one).
    for (const worker of workers) worker.start();
    const inTime = await beforeDeadline(clock, settled.reached);
    // A capped run stops here: batches in hand settle what they handled, the rest stays pending.
    if (!inTime) await Promise.all(workers.map((worker) => worker.stop()));
    const drained = await stopClock(clock, settled.count, !inTime);
    await Promise.all(workers.map((worker) => worker.stop()));
    drained.problems.push(...logged, ...(await checkEvents(admin, options, settled.count)));
    return drained;
  } finally {
    await Promise.all(pools.map((pool) => pool.end()));
  }
}

/** Every settled event a success after one attempt, with its variant's note; the rest untouched. */
async function checkEvents(admin: pg.Pool, options: CarebookDrainOptions, handled: number) {
  const note = options.variant === 'handler' ? HANDLED_NOTE : `ignored: no handler for ${NOOP_EVENT_TYPE}`;
  const { rows } = await admin.query<{
    total: number;
    settled: number;
    untouched: number;
    batches: number;
    other: string | null;
  }>(
    `SELECT count(*)::int AS total,
            count(*) FILTER (WHERE status = 'success' AND attempts = 1 AND note = $1
                               AND processed_by IS NOT NULL)::int AS settled,
            count(*) FILTER (WHERE status = 'pending' AND attempts = 0)::int AS untouched,
            (SELECT count(*) FROM queue_batches)::int AS batches,
            string_agg(DISTINCT status || ' after ' || attempts || ' attempt(s), note ' || coalesce(note, 'none'), '; ')
              FILTER (WHERE NOT (status = 'success' AND attempts = 1 AND note = $1)
                        AND NOT (status = 'pending' AND attempts = 0)) AS other
       FROM webhook_events`,
    [note],
  );
  const row = rows[0];
  if (!row) return ['the event check returned no row'];
  const expected = options.events;
  if (
    row.total === expected &&
    row.settled === handled &&
    row.untouched === expected - handled &&
    row.batches === 0
  )
    return [];
  return [
    `Carebook drain (${options.variant}): ${row.settled} events settled once with the note "${note}", ` +
      `${row.untouched} untouched, of ${row.total} rows; expected ${handled} settled of ${expected}; ` +
      `${row.batches} rows left in queue_batches (others: ${row.other ?? 'none'})`,
  ];
}
