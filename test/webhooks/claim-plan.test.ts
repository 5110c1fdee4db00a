// Neither settled rows nor a backlog may slow the claim (DESIGN.md). Before PostgreSQL 18 a SQL
// function with SET search_path is planned without its parameter values (its LIMIT guessed at 10 %
// of the rows), so the claim's statement is checked as PostgreSQL plans it there: a generic plan,
// on a table with 20,000 settled events and a backlog of 20,000. (00012's first version of the
// claim chose a full scan and a hash join here.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PoolClient } from '../../src/db/pool.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

describe('the claim query plan', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    await db.pool.query(
      `INSERT INTO webhook_events (webhook_id, provider, event_id, event_type, payload, raw_body, request_url, status, processed_at)
       SELECT '00000000-0000-4000-8000-000000000001', 'stripe', 'evt_settled_' || n, 'x', '{}', '\\x', 'https://x',
              'success', now()
         FROM generate_series(1, 20000) n`,
    );
    await db.pool.query(
      `INSERT INTO webhook_events (webhook_id, provider, event_id, event_type, payload, raw_body, request_url)
       SELECT '00000000-0000-4000-8000-000000000001', 'stripe', 'evt_ready_' || n, 'x', '{}', '\\x', 'https://x'
         FROM generate_series(1, 20000) n`,
    );
    await db.pool.query('ANALYZE webhook_events');
  });
  afterAll(() => db.drop());

  async function genericPlan(client: PoolClient): Promise<string> {
    const [{ body }] = (
      await client.query<{ body: string }>(
        `SELECT prosrc AS body FROM pg_proc WHERE proname = 'claim_webhook_events'`,
      )
    ).rows as [{ body: string }];
    const statement = body
      .replaceAll('p_worker', '$1::text')
      .replaceAll('p_limit', '$2::integer')
      .replaceAll('p_lease_seconds', '$3::integer');
    await client.query('SET plan_cache_mode = force_generic_plan');
    await client.query(`PREPARE claim_probe AS ${statement}`);
    const plan = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN EXECUTE claim_probe('probe', 50, 60)`);
    return plan.rows.map((row) => row['QUERY PLAN']).join('\n');
  }

  it('reads the claimable-rows index and the primary key, never the whole table', async () => {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      const plan = await genericPlan(client);
      expect(plan).toMatch(/Index Scan using webhook_events_claimable_idx/);
      expect(plan).not.toMatch(/Seq Scan on webhook_events/);
    } finally {
      await client.query('ROLLBACK');
      client.release(true);
    }
  });
});
