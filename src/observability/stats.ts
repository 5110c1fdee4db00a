// The numbers behind /admin: this process's counters (booking attempts, conflicts, latency,
// webhook intake) and the database's view of the queue (depth, oldest pending, dead letters,
// events handled in the last minute per provider — true across every worker process).
import type { Pool } from '../db/pool.js';
import { withTenant } from '../db/tenant.js';
import { queueStats } from '../webhooks/queue.js';
import { adminContext } from '../webhooks/replay.js';
import { type Metrics, summarizeQueue } from './metrics.js';

export interface DashboardStats {
  at: string;
  booking: {
    attempts: Record<string, number>;
    conflicts: number;
    latencyMs: { p50: number | null; p99: number | null };
    holdsExpired: number;
    activeHolds: number;
  };
  webhooks: {
    received: Record<string, Record<string, number>>;
    handledLastMinute: Record<string, number>;
    queueDepth: Record<string, number>;
    oldestPendingSeconds: Record<string, number>;
    deadLetters: Record<string, number>;
  };
}

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

export async function dashboardStats(pool: Pool, metrics: Metrics, actor: string): Promise<DashboardStats> {
  const received: Record<string, Record<string, number>> = {};
  for (const value of (await metrics.webhookReceived.get()).values) {
    const provider = String(value.labels.provider);
    received[provider] = { ...received[provider], [String(value.labels.outcome)]: value.value };
  }
  const queue = summarizeQueue(await queueStats(pool));
  const database = await withTenant(pool, adminContext(actor), async (client) => {
    const handled = await client.query<{ provider: string; n: number }>(
      `SELECT provider, count(*)::int AS n FROM webhook_events
        WHERE status = 'success' AND processed_at > now() - interval '1 minute' GROUP BY provider`,
    );
    const holds = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM appointments WHERE status = 'pending_payment'`,
    );
    return { handled: handled.rows, holds: holds.rows[0]?.n ?? 0 };
  });
  return {
    at: new Date().toISOString(),
    booking: {
      attempts: byLabel((await metrics.bookingAttempts.get()).values, 'outcome'),
      conflicts: (await metrics.bookingConflicts.get()).values[0]?.value ?? 0,
      latencyMs: await latency(metrics),
      holdsExpired: (await metrics.holdsExpired.get()).values[0]?.value ?? 0,
      activeHolds: database.holds,
    },
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
