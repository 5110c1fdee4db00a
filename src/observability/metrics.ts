// Prometheus metrics (prom-client). Labels carry outcomes and provider names only — never ids,
// names, phone numbers or anything else about a patient.
import client from 'prom-client';

export interface QueueStat {
  provider: string;
  status: string;
  events: number;
  oldestSeconds: number | null;
}

export interface Metrics {
  registry: client.Registry;
  bookingAttempts: client.Counter<'outcome'>;
  bookingConflicts: client.Counter;
  bookingDuration: client.Histogram<'outcome'>;
  holdsExpired: client.Counter;
  webhookReceived: client.Counter<'provider' | 'outcome'>;
  webhookProcessed: client.Counter<'provider' | 'outcome'>;
}

export interface MetricsOptions {
  /** Reads the queue (webhook_queue_stats()) for the gauges, at scrape time. */
  queueStats?: () => Promise<QueueStat[]>;
}

/** One registry per app instance (tests build several apps in one process). */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'carebook_' });
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new client.Counter<L>({ name, help, labelNames, registers: [registry] });

  if (options.queueStats) registerQueueGauges(registry, options.queueStats);
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
  };
}

/** Gauges read from the database when scraped; one query serves all of them within a second. */
function registerQueueGauges(registry: client.Registry, read: () => Promise<QueueStat[]>): void {
  let cached: { at: number; stats: Promise<QueueStat[]> } | null = null;
  const stats = () => {
    if (!cached || Date.now() - cached.at > 1000) cached = { at: Date.now(), stats: read().catch(() => []) };
    return cached.stats;
  };
  const gauge = (name: string, help: string, pick: (summary: QueueSummary) => Record<string, number>) =>
    new client.Gauge({
      name,
      help,
      labelNames: ['provider'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const [provider, value] of Object.entries(pick(summarizeQueue(await stats()))))
          this.set({ provider }, value);
      },
    });
  gauge(
    'webhook_dead_letters',
    'Events in the dead-letter state (replay with `carebook replay`).',
    (q) => q.deadLetters,
  );
  gauge(
    'webhook_queue_depth',
    'Events waiting to be handled (pending, failed awaiting retry, or processing).',
    (q) => q.depth,
  );
  gauge(
    'webhook_oldest_pending_age_seconds',
    'Age of the oldest event not yet handled, by provider.',
    (q) => q.oldestSeconds,
  );
}

export interface QueueSummary {
  depth: Record<string, number>;
  oldestSeconds: Record<string, number>;
  deadLetters: Record<string, number>;
}

/** webhook_queue_stats() rows by provider: waiting events, the oldest one's age, dead letters. */
export function summarizeQueue(stats: readonly QueueStat[]): QueueSummary {
  const summary: QueueSummary = { depth: {}, oldestSeconds: {}, deadLetters: {} };
  for (const stat of stats) {
    if (stat.status === 'dead_letter') summary.deadLetters[stat.provider] = stat.events;
    else summary.depth[stat.provider] = (summary.depth[stat.provider] ?? 0) + stat.events;
    if (stat.oldestSeconds !== null) {
      summary.oldestSeconds[stat.provider] = Math.max(
        summary.oldestSeconds[stat.provider] ?? 0,
        stat.oldestSeconds,
      );
    }
  }
  return summary;
}
