// The outbox for platform admins: rows by status and kind (newest first, no payloads: they can
// hold message text), and the replay of dead letters — each replay audited in the database with
// the admin and the reason (replay_queue_jobs), the rows due again at once.
import { lostAnchor, type Page, pageOf } from '../db/page.js';
import type { Pool } from '../db/pool.js';
import { adminContext, withTenant } from '../db/tenant.js';
import { replayJobsIn, requireReplayReason } from '../queue/replay.js';
import { type OutboxKind, queueKindOf, recordOutboxReplay } from './outbox.js';
import { OUTBOX_PAGE, type OutboxRow } from './schemas.js';

export interface OutboxFilter {
  status?: string;
  kind?: string;
  limit?: number;
}

export async function listOutbox(
  pool: Pool,
  actor: string,
  filter: OutboxFilter,
  after: string | null,
): Promise<Page<OutboxRow>> {
  const limit = filter.limit ?? OUTBOX_PAGE.default;
  return withTenant(pool, adminContext(actor), async (client) => {
    const result = await client.query<OutboxRow>(
      `SELECT o.id, o.clinic_id, o.kind, o.purpose, o.appointment_id, o.status, o.attempts, o.provider_ref, o.note,
              o.last_error, to_api_time(o.run_at) AS run_at, to_api_time(o.created_at) AS created_at
         FROM outbox o
        WHERE ($1::text IS NULL OR o.status = $1) AND ($2::text IS NULL OR o.kind = $2)
          AND ($4::uuid IS NULL OR (o.created_at, o.id) < (SELECT c.created_at, c.id FROM outbox c WHERE c.id = $4))
        ORDER BY o.created_at DESC, o.id DESC
        LIMIT $3 + 1`,
      [filter.status ?? null, filter.kind ?? null, limit, after],
    );
    await lostAnchor(client, 'SELECT 1 FROM outbox WHERE id = $1', after, result.rows.length);
    return pageOf(result.rows, limit, (row) => row.id);
  });
}

/** Dead letters (status failed) go back to pending with a fresh attempt budget; others are skipped. */
export async function replayOutbox(
  pool: Pool,
  ids: readonly string[],
  options: { reason: string; actor: string },
): Promise<{ replayed: string[]; skipped: string[] }> {
  requireReplayReason(options.reason);
  return withTenant(pool, adminContext(options.actor), async (client) => {
    const kinds = await client.query<{ kind: OutboxKind; ids: string[] }>(
      `SELECT kind, array_agg(id) AS ids FROM outbox WHERE id = ANY ($1::uuid[]) AND status = 'failed' GROUP BY kind`,
      [ids],
    );
    const replayed: string[] = [];
    for (const { kind, ids: rows } of kinds.rows) {
      const queueKind = { name: queueKindOf(kind), recordReplay: recordOutboxReplay };
      replayed.push(...(await replayJobsIn(client, queueKind, rows, options.reason)));
    }
    return { replayed, skipped: ids.filter((id) => !replayed.includes(id)) };
  });
}
