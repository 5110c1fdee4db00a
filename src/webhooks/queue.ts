// The queue's SQL, one named function each (the procedures live in 00012). All run as the
// carebook_worker role.
import type { Pool, PoolClient } from '../db/pool.js';
import { queryInContext, type TenantContext } from '../db/tenant.js';
import type { QueueStat } from '../observability/metrics.js';
import type { ClaimedEvent } from './handlers/index.js';

export function workerContext(workerId: string): TenantContext {
  return { dbRole: 'carebook_worker', appRole: 'service', userId: workerId, actor: workerId };
}

interface ClaimedRow {
  id: string;
  webhook_id: string;
  provider: string;
  event_type: string;
  event_id: string;
  payload: Record<string, unknown>;
  attempts: number;
}

/** Leases up to `limit` ready events (one round trip, its own transaction). */
export async function claimEvents(
  pool: Pool,
  workerId: string,
  limit: number,
  leaseSeconds: number,
): Promise<ClaimedEvent[]> {
  const rows = await queryInContext<ClaimedRow>(
    pool,
    workerContext(workerId),
    'claim_webhook_events($1, $2, $3)',
    [workerId, limit, leaseSeconds],
  );
  return rows.map((row) => ({
    id: row.id,
    webhookId: row.webhook_id,
    provider: row.provider,
    eventType: row.event_type,
    eventId: row.event_id,
    payload: row.payload,
    attempts: row.attempts,
  }));
}

/** Marks events success in the caller's transaction; returns how many were still ours to mark. */
export async function completeEvents(
  client: PoolClient,
  workerId: string,
  ids: string[],
  notes: string[],
): Promise<number> {
  const result = await client.query<{ n: number }>(
    'SELECT complete_webhook_events($1, $2::uuid[], $3::text[]) AS n',
    [workerId, ids, notes],
  );
  return result.rows[0]?.n ?? 0;
}

export interface FailureSettings {
  maxAttempts: number;
  jitter: () => number;
}

/** Settles a failed attempt in the caller's transaction: 'failed' (with backoff) or 'dead_letter'. */
export async function failEvent(
  client: PoolClient,
  workerId: string,
  id: string,
  error: string,
  permanent: boolean,
  settings: FailureSettings,
): Promise<string | null> {
  const result = await client.query<{ status: string | null }>(
    'SELECT fail_webhook_event($1, $2, $3, $4, $5, 5, 3600, $6) AS status',
    [id, workerId, error, settings.maxAttempts, permanent, settings.jitter()],
  );
  return result.rows[0]?.status ?? null;
}

/** Gives unhandled leased events back (shutdown). */
export async function releaseEvents(pool: Pool, workerId: string, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const rows = await queryInContext<{ n: number }>(
    pool,
    workerContext(workerId),
    'release_webhook_events($1, $2::uuid[]) AS n',
    [workerId, ids],
  );
  return rows[0]?.n ?? 0;
}

/** Unsettled events by provider and status, for the gauges and the dashboard. */
export async function queueStats(pool: Pool): Promise<QueueStat[]> {
  const rows = await queryInContext<{
    provider: string;
    status: string;
    events: string;
    oldest_seconds: number | null;
  }>(pool, workerContext('metrics'), 'webhook_queue_stats()', []);
  return rows.map((row) => ({
    provider: row.provider,
    status: row.status,
    events: Number(row.events),
    oldestSeconds: row.oldest_seconds,
  }));
}
