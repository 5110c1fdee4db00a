// The outbox on /metrics, stated once (docs/ops/queue.md lists them with their PromQL):
//   outbox_jobs{kind, state}             gauge: unsettled outbox jobs of each kind by state —
//       due (waiting for a worker now), scheduled (not due yet: reminders), in_flight (a worker
//       holds the lease), needs_reconcile (outcome unknown: looked up before any resend),
//       dead_letter (attempts exhausted or refused for good: replay through /admin/outbox/replay);
//   outbox_oldest_due_age_seconds{kind}  gauge: how long the oldest due job has been due (absent
//       when none is) — a worker down or behind shows here first, unlike the age since staging,
//       which a reminder booked days ahead makes large on a healthy system;
//   deliveries per kind and outcome are the engine's counter,
//       queue_items_settled_total{kind="outbox.<kind>", outcome=success|failed|dead_letter|lease_lost}.
// `kind` is the outbox kind (payment, payment_cancel, refund, room, room_update, room_delete,
// message): never an id, a phone number or anything else about a patient.
import type client from 'prom-client';
import type { Pool } from '../db/pool.js';
import { withTenant } from '../db/tenant.js';
import { workerContext } from '../queue/store.js';
import { scrapeGauges } from './scrape-gauges.js';

export const OUTBOX_JOB_STATES = ['due', 'scheduled', 'in_flight', 'needs_reconcile', 'dead_letter'] as const;
export type OutboxJobState = (typeof OUTBOX_JOB_STATES)[number];

export interface OutboxStat {
  /** The outbox kind, without the queue's `outbox.` prefix. */
  kind: string;
  state: OutboxJobState;
  items: number;
  /** Seconds since the oldest of these became due; null when none is due. */
  oldestDueSeconds: number | null;
}

/**
 * The outbox's jobs by kind and state. Reads queue_jobs (unsettled jobs only: small, and its due
 * index) and each job's outbox row by primary key, never the settled history.
 */
export async function outboxStats(pool: Pool): Promise<OutboxStat[]> {
  return withTenant(pool, workerContext('metrics'), async (sql) => {
    const result = await sql.query<{
      kind: string;
      state: OutboxJobState;
      items: number;
      oldest: number | null;
    }>(
      `SELECT substr(j.kind, 8) AS kind, s.state, count(*)::int AS items,
              extract(epoch FROM now() - min(j.run_at) FILTER (WHERE j.run_at <= now()))::float8 AS oldest
         FROM queue_jobs j
         LEFT JOIN outbox o ON o.id = j.ref
        CROSS JOIN LATERAL (SELECT CASE WHEN j.dead_at IS NOT NULL THEN 'dead_letter'
                                        WHEN j.locked_by IS NOT NULL THEN 'in_flight'
                                        WHEN o.status = 'needs_reconcile' THEN 'needs_reconcile'
                                        WHEN j.run_at <= now() THEN 'due'
                                        ELSE 'scheduled' END AS state) AS s
        WHERE j.kind LIKE 'outbox.%'
        GROUP BY 1, 2`,
    );
    return result.rows.map((row) => ({
      kind: row.kind,
      state: row.state,
      items: row.items,
      oldestDueSeconds: row.state === 'due' || row.state === 'needs_reconcile' ? row.oldest : null,
    }));
  });
}

/** The two gauges, read from the database when scraped; one query serves both. */
export function registerOutboxGauges(registry: client.Registry, read: () => Promise<OutboxStat[]>): void {
  const gauge = scrapeGauges(registry, read);
  gauge(
    'outbox_jobs',
    'Unsettled outbox jobs by kind and state: due (waiting for a worker), scheduled (not due yet), in_flight, needs_reconcile (outcome unknown, looked up before any resend), dead_letter (replay: POST /admin/outbox/replay).',
    ['kind', 'state'],
    (all) => all.map((stat) => [{ kind: stat.kind, state: stat.state }, stat.items]),
  );
  gauge(
    'outbox_oldest_due_age_seconds',
    'Seconds since the oldest due outbox job (due or needs_reconcile) of each kind became due; absent when none is due.',
    ['kind'],
    (all) => {
      const oldest = new Map<string, number>();
      for (const stat of all) {
        if (stat.oldestDueSeconds !== null)
          oldest.set(stat.kind, Math.max(oldest.get(stat.kind) ?? 0, stat.oldestDueSeconds));
      }
      return [...oldest].map(([kind, seconds]) => [{ kind }, seconds]);
    },
  );
}
