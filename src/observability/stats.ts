// The numbers behind /admin: this process's counters (booking attempts, conflicts, latency,
// webhook intake) and the database's view of the queues (per kind: waiting, in flight, dead
// letters, settled in the last minute; webhook events per provider — true across every worker).
import type { Pool } from '../db/pool.js';
import { adminContext, withTenant } from '../db/tenant.js';
import { type QueueStat, queueStats } from '../queue/store.js';
import { WEBHOOK_KIND } from '../webhooks/queue-kind.js';
import { type Metrics, summarizeQueue } from './metrics.js';
import type { DashboardStats } from './schemas.js';

type MetricValues = Awaited<ReturnType<Metrics['bookingAttempts']['get']>>['values'];

function byLabel(values: MetricValues, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const value of values) {
    const key = String((value.labels as Record<string, string | number | undefined>)[label] ?? '');
    out[key] = (out[key] ?? 0) + value.value;
  }
  return out;
}

/** A quantile from cumulative histogram buckets, interpolated within the bucket (as PromQL does). */
export function histogramQuantile(buckets: Array<{ le: number; count: number }>, q: number): number | null {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (total === 0) return null;
  const rank = q * total;
  let previous = { le: 0, count: 0 };
  for (const bucket of sorted) {
    if (bucket.count >= rank) {
      if (!Number.isFinite(bucket.le)) return previous.le;
      const inBucket = bucket.count - previous.count;
      return (
        previous.le + (bucket.le - previous.le) * (inBucket === 0 ? 1 : (rank - previous.count) / inBucket)
      );
    }
    previous = bucket;
  }
  return previous.le;
}

async function latency(metrics: Metrics): Promise<{ p50: number | null; p99: number | null }> {
  const cumulative = new Map<number, number>();
  for (const value of (await metrics.bookingDuration.get()).values) {
    if (value.metricName !== 'booking_duration_seconds_bucket') continue;
    const bound = (value.labels as { le?: string | number }).le;
    const le = bound === '+Inf' ? Number.POSITIVE_INFINITY : Number(bound);
    cumulative.set(le, (cumulative.get(le) ?? 0) + value.value);
  }
  const buckets = [...cumulative].map(([le, count]) => ({ le, count }));
  const ms = (seconds: number | null) => (seconds === null ? null : Math.round(seconds * 10_000) / 10);
  return { p50: ms(histogramQuantile(buckets, 0.5)), p99: ms(histogramQuantile(buckets, 0.99)) };
}

type QueueRow = DashboardStats['queues'][number];

/** One row per kind: what waits (queue_stats) and what was settled in the last minute. */
function queueRows(
  kinds: readonly string[],
  stats: readonly QueueStat[],
  throughput: ReadonlyArray<{ kind: string; settled: number; failed: number }>,
): QueueRow[] {
  const rows = new Map<string, QueueRow>();
  const row = (kind: string) => {
    let found = rows.get(kind);
    if (!found) {
      found = {
        kind,
        pending: 0,
        failed: 0,
        in_flight: 0,
        interrupted: 0,
        dead_letter: 0,
        needs_reconcile: 0,
        oldest_waiting_seconds: null,
        settled_last_minute: 0,
        failed_last_minute: 0,
      };
      rows.set(kind, found);
    }
    return found;
  };
  for (const kind of kinds) row(kind);
  for (const stat of stats) {
    const entry = row(stat.kind);
    entry[stat.state] += stat.items;
    if ((stat.state === 'pending' || stat.state === 'failed') && stat.oldestSeconds !== null)
      entry.oldest_waiting_seconds = Math.round(
        Math.max(entry.oldest_waiting_seconds ?? 0, stat.oldestSeconds),
      );
  }
  for (const { kind, settled, failed } of throughput) {
    row(kind).settled_last_minute = settled;
    row(kind).failed_last_minute = failed;
  }
  return [...rows.values()];
}

export async function dashboardStats(
  pool: Pool,
  metrics: Metrics,
  actor: string,
  kinds: readonly string[],
  warnings: readonly string[] = [],
): Promise<DashboardStats> {
  const received: Record<string, Record<string, number>> = {};
  for (const value of (await metrics.webhookReceived.get()).values) {
    const provider = String(value.labels.provider);
    received[provider] = { ...received[provider], [String(value.labels.outcome)]: value.value };
  }
  const all = await queueStats(pool);
  const queue = summarizeQueue(all);
  const database = await withTenant(pool, adminContext(actor), async (client) => {
    // Settled in the last minute, by every worker (10-second buckets: the last six).
    const handled = await client.query<{ provider: string; n: number }>(
      `SELECT label AS provider, sum(settled)::int AS n FROM queue_throughput
        WHERE kind = $1 AND bucket > now() - interval '1 minute' GROUP BY label`,
      [WEBHOOK_KIND],
    );
    const throughput = await client.query<{ kind: string; settled: number; failed: number }>(
      `SELECT kind, sum(settled)::int AS settled, sum(failed)::int AS failed FROM queue_throughput
        WHERE bucket > now() - interval '1 minute' GROUP BY kind`,
    );
    const holds = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM appointments WHERE status = 'pending_payment'`,
    );
    const review = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM appointment_slots WHERE status = 'needs_review' AND ends_at > now()`,
    );
    return {
      handled: handled.rows,
      throughput: throughput.rows,
      holds: holds.rows[0]?.n ?? 0,
      review: review.rows[0]?.n ?? 0,
    };
  });
  return {
    at: new Date().toISOString(),
    booking: {
      attempts: byLabel((await metrics.bookingAttempts.get()).values, 'outcome'),
      conflicts: (await metrics.bookingConflicts.get()).values[0]?.value ?? 0,
      latencyMs: await latency(metrics),
      holdsExpired: (await metrics.holdsExpired.get()).values[0]?.value ?? 0,
      activeHolds: database.holds,
      slotsNeedingReview: database.review,
    },
    warnings: [...warnings],
    queues: queueRows(kinds, all, database.throughput),
    webhooks: {
      received,
      handledLastMinute: Object.fromEntries(database.handled.map((row) => [row.provider, row.n])),
      queueDepth: queue.depth,
      oldestPendingSeconds: Object.fromEntries(
        Object.entries(queue.oldestSeconds).map(([p, v]) => [p, Math.round(v)]),
      ),
      deadLetters: queue.deadLetters,
    },
  };
}
