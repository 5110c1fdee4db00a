// Prometheus metrics (prom-client). Labels carry outcomes and provider names only — never ids,
// names, phone numbers or anything else about a patient.
import client from 'prom-client';
import type { Pool } from '../db/pool.js';
import { type QueueStat, queueStats } from '../queue/store.js';
import { WEBHOOK_KIND } from '../webhooks/queue-kind.js';
import { type OutboxStat, outboxStats, registerOutboxGauges } from './outbox-metrics.js';
import { scrapeGauges } from './scrape-gauges.js';

export interface Metrics {
  registry: client.Registry;
  bookingAttempts: client.Counter<'outcome'>;
  bookingConflicts: client.Counter;
  bookingDuration: client.Histogram<'outcome'>;
  holdsExpired: client.Counter;
  webhookReceived: client.Counter<'provider' | 'outcome'>;
  webhookProcessed: client.Counter<'provider' | 'outcome'>;
  queueSettled: client.Counter<'kind' | 'outcome'>;
}

export interface MetricsOptions {
  /** Reads the queues (queue_stats()) for the gauges, at scrape time. */
  queueStats?: () => Promise<QueueStat[]>;
  /** Reads the outbox's jobs (outboxStats) for its gauges, at scrape time. */
  outboxStats?: () => Promise<OutboxStat[]>;
}

/** The metrics of a process with a database: every gauge reads it at scrape time. */
export function createDatabaseMetrics(pool: Pool): Metrics {
  return createMetrics({ queueStats: () => queueStats(pool), outboxStats: () => outboxStats(pool) });
}

/** One registry per app instance (tests build several apps in one process). */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'carebook_' });
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new client.Counter<L>({ name, help, labelNames, registers: [registry] });

  if (options.queueStats) registerQueueGauges(registry, options.queueStats);
  if (options.outboxStats) registerOutboxGauges(registry, options.outboxStats);
  return {
    registry,
    bookingAttempts: counter(
      'booking_attempts_total',
      'Booking requests by outcome: created, replayed, or the error code.',
      ['outcome'],
    ),
    bookingConflicts: counter(
      'booking_conflicts_total',
      'Booking attempts refused because the slot was taken (409 slot_unavailable).',
    ),
    bookingDuration: new client.Histogram({
      name: 'booking_duration_seconds',
      help: 'Time to settle a booking request in the database, by outcome.',
      labelNames: ['outcome'],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    holdsExpired: counter('booking_holds_expired_total', 'Unpaid holds expired by the sweeper (slot freed).'),
    webhookReceived: counter(
      'webhook_received_total',
      'Webhook requests by provider and outcome: accepted, duplicate, malformed, test_ping, not_configured, or the signature failure (missing_signature, malformed_signature, bad_signature, stale_timestamp).',
      ['provider', 'outcome'],
    ),
    webhookProcessed: counter(
      'webhook_processed_total',
      'Webhook events settled by the worker, by provider and outcome: success, ignored, failed, dead_letter.',
      ['provider', 'outcome'],
    ),
    queueSettled: counter(
      'queue_items_settled_total',
      'Queue items settled, by kind and outcome: success, ignored, failed, dead_letter, or lease_lost (a late settle that changed nothing).',
      ['kind', 'outcome'],
    ),
  };
}

/** Gauges read from the database when scraped; one query serves all of them. */
function registerQueueGauges(registry: client.Registry, read: () => Promise<QueueStat[]>): void {
  const gauge = scrapeGauges(registry, read);
  const byProvider = (pick: (summary: QueueSummary) => Record<string, number>) => (all: QueueStat[]) =>
    Object.entries(pick(summarizeQueue(all))).map(
      ([provider, value]): [Record<'provider', string>, number] => [{ provider }, value],
    );
  gauge(
    'webhook_dead_letters',
    'Events in the dead-letter state (replay with `carebook replay`).',
    ['provider'],
    byProvider((q) => q.deadLetters),
  );
  gauge(
    'webhook_queue_depth',
    'Events waiting to be handled (pending, or failed awaiting retry).',
    ['provider'],
    byProvider((q) => q.depth),
  );
  gauge(
    'webhook_oldest_pending_age_seconds',
    'Age of the oldest event not yet handled, by provider.',
    ['provider'],
    byProvider((q) => q.oldestSeconds),
  );
  gauge(
    'queue_items',
    'Unsettled queue items by kind and state: pending, failed (awaiting retry; needs_reconcile counts the outbox ones whose outcome is unknown), in_flight, interrupted, dead_letter.',
    ['kind', 'state'],
    (all) => {
      const sums = new Map<string, [Record<'kind' | 'state', string>, number]>();
      for (const stat of all) {
        const key = `${stat.kind}\u0000${stat.state}`;
        const entry = sums.get(key) ?? [{ kind: stat.kind, state: stat.state }, 0];
        entry[1] += stat.items;
        sums.set(key, entry);
      }
      return [...sums.values()];
    },
  );
  gauge(
    'queue_oldest_waiting_age_seconds',
    'Age of the oldest pending or failed item, by kind.',
    ['kind'],
    (all) => {
      const oldest = new Map<string, number>();
      for (const stat of all) {
        if ((stat.state === 'pending' || stat.state === 'failed') && stat.oldestSeconds !== null)
          oldest.set(stat.kind, Math.max(oldest.get(stat.kind) ?? 0, stat.oldestSeconds));
      }
      return [...oldest].map(([kind, value]) => [{ kind }, value]);
    },
  );
}

export interface QueueSummary {
  depth: Record<string, number>;
  oldestSeconds: Record<string, number>;
  deadLetters: Record<string, number>;
}

/** The webhook events of queue_stats() by provider: waiting events, the oldest one's age, dead letters. */
export function summarizeQueue(stats: readonly QueueStat[]): QueueSummary {
  const summary: QueueSummary = { depth: {}, oldestSeconds: {}, deadLetters: {} };
  for (const stat of stats) {
    if (stat.kind !== WEBHOOK_KIND || stat.label === '') continue;
    const provider = stat.label;
    if (stat.state === 'dead_letter') summary.deadLetters[provider] = stat.items;
    else summary.depth[provider] = (summary.depth[provider] ?? 0) + stat.items;
    if (stat.oldestSeconds !== null) {
      summary.oldestSeconds[provider] = Math.max(summary.oldestSeconds[provider] ?? 0, stat.oldestSeconds);
    }
  }
  return summary;
}
