// Replay of claim–call–settle dead letters: chosen jobs of a kind get a fresh attempt budget and are
// due at once; their records say so (the kind's recordReplay). Admin-only and audited in the
// database with the actor and the reason. (Webhook events replay through src/webhooks/replay.ts,
// which verifies their stored signatures again first.)
import { DomainError } from '../db/errors.js';
import type { Pool, Sql } from '../db/pool.js';
import { adminContext, withTenant } from '../db/tenant.js';
import type { CallKind } from './kind.js';

type Replayable = Pick<CallKind<{ ref: string }>, 'name' | 'recordReplay'>;

/** Every replay (webhook events, queue jobs, outbox rows) states why: at least 3 characters. */
export function requireReplayReason(reason: string): void {
  if ([...reason.trim()].length < 3) {
    throw new DomainError(
      'validation_error',
      'a replay needs a reason of at least 3 characters besides spaces',
    );
  }
}

/** In the caller's admin transaction: replays the kind's dead jobs among `refs`, audited. */
export async function replayJobsIn(
  sql: Sql,
  kind: Replayable,
  refs: readonly string[],
  reason: string,
): Promise<string[]> {
  const result = await sql.query<{ ref: string }>(
    'SELECT ref FROM replay_queue_jobs($1, $2::uuid[], $3) AS ref',
    [kind.name, refs, reason],
  );
  const replayed = result.rows.map((row) => row.ref);
  if (replayed.length > 0) await kind.recordReplay(sql, replayed);
  return replayed;
}

export async function replayJobs(
  pool: Pool,
  kind: Replayable,
  refs: readonly string[],
  options: { reason: string; actor: string },
): Promise<string[]> {
  requireReplayReason(options.reason);
  return withTenant(pool, adminContext(options.actor), (client) =>
    replayJobsIn(client, kind, refs, options.reason),
  );
}
