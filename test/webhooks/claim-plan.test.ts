// Neither settled rows nor a backlog may slow the claim (DESIGN.md). A plan cached without its
// parameter values guesses LIMIT at 10 % of the rows (00012's first claim chose a full scan and a
// hash join that way), so the claim runs here with generic plans forced, on a table with 20,000
// settled events, a backlog of 20,000 and 1,000 retries due, and counts what it scanned.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

describe('the claim query plan', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    // One stored request carrying all the events (as a large provider batch would).
    await db.pool.query(
      `INSERT INTO webhook_requests (id, webhook_id, raw_body, request_url)
       VALUES ('00000000-0000-4000-8000-0000000000f1', '00000000-0000-4000-8000-000000000001', '\\x', 'https://x')`,
    );
    await db.pool.query(
      `INSERT INTO webhook_events (webhook_id, provider, event_id, event_type, payload, request_id, status, processed_at)
       SELECT '00000000-0000-4000-8000-000000000001', 'stripe', 'evt_settled_' || n, 'x', '{}',
              '00000000-0000-4000-8000-0000000000f1', 'success', now()
         FROM generate_series(1, 20000) n`,
    );
    await db.pool.query(
      `INSERT INTO webhook_events (webhook_id, provider, event_id, event_type, payload, request_id)
       SELECT '00000000-0000-4000-8000-000000000001', 'stripe', 'evt_ready_' || n, 'x', '{}',
              '00000000-0000-4000-8000-0000000000f1'
         FROM generate_series(1, 20000) n`,
    );
    await db.pool.query(
      `INSERT INTO webhook_events (webhook_id, provider, event_id, event_type, payload, request_id, status, attempts,
                                   next_attempt_at)
       SELECT '00000000-0000-4000-8000-000000000001', 'stripe', 'evt_retry_' || n, 'x', '{}',
              '00000000-0000-4000-8000-0000000000f1', 'failed', 1, now() - interval '1 minute'
         FROM generate_series(1, 1000) n`,
    );
    await db.pool.query('ANALYZE webhook_events');
  });
  afterAll(() => db.drop());

  /** Table and index scans of one claim, as the worker role, with generic plans forced. */
  async function scansOfClaim(retryFirst: boolean) {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL plan_cache_mode = force_generic_plan`);
      await client.query(`SELECT set_config('role', 'carebook_worker', true)`);
      const claimed = await client.query('SELECT id FROM claim_webhook_events(50, $1, 8, 5, 3600)', [
        retryFirst,
      ]);
      const scans = await client.query<{ seq: number; due: number }>(
        `SELECT (SELECT seq_scan::int FROM pg_stat_xact_user_tables WHERE relname = 'webhook_events') AS seq,
                pg_stat_get_xact_numscans('webhook_events_due_idx'::regclass)::int AS due`,
      );
      return { claimed: claimed.rows.length, ...scans.rows[0]! };
    } finally {
      await client.query('ROLLBACK');
      client.release(true);
    }
  }

  it('reads the due-events index, never the whole table, for new events and for retries', async () => {
    expect(await scansOfClaim(false)).toMatchObject({ claimed: 50, seq: 0, due: expect.any(Number) });
    expect((await scansOfClaim(false)).due).toBeGreaterThan(0);
    const retry = await scansOfClaim(true);
    expect(retry).toMatchObject({ claimed: 1, seq: 0 });
    expect(retry.due).toBeGreaterThan(0);
  });
});
