// settle_webhook_events finds a batch's events by the row ids (ctid) its claim returned (00027):
// the TID scan is the fast path, and an event whose row moved inside the batch's own transaction,
// or a caller of the previous release that passes no row ids, is still settled, once.
import { describe, expect, it } from 'vitest';
import { sql } from '../helpers/db.js';
import { sendStripe, stripeEvent } from '../helpers/webhooks.js';
import { useWorkerFixture } from '../helpers/worker-fixture.js';

interface Claimed {
  batch: string;
  id: string;
  row_tid: string;
}

describe('settle by row id', () => {
  const f = useWorkerFixture();

  /** Claims every due event in one transaction, lets `between` run in it, then settles them all done. */
  async function claimAndSettle(
    between: (client: { query: typeof f.db.pool.query }, claimed: Claimed[]) => Promise<void>,
    tids: boolean,
  ): Promise<{ claimed: Claimed[]; scans: number }> {
    const client = await f.db.pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<Claimed>(
        'SELECT batch::text, id, row_tid::text FROM claim_webhook_events(100, false, 8, 5, 3600)',
      );
      await between(client, rows);
      const scansSoFar = async () =>
        (
          await client.query<{ n: number }>(
            `SELECT (pg_stat_get_xact_numscans('webhook_events'::regclass)
                     + (SELECT sum(pg_stat_get_xact_numscans(i.indexrelid)) FROM pg_index i
                         WHERE i.indrelid = 'webhook_events'::regclass))::int AS n`,
          )
        ).rows[0]?.n ?? -1;
      const scansBefore = await scansSoFar();
      const args = [
        rows[0]?.batch,
        'settle-test',
        'settle-test/0',
        rows.map((row) => row.id),
        rows.map((row) => `handled ${row.id}`),
        [],
        [],
        [],
        8,
        5,
        3600,
        null,
      ];
      const settled = tids
        ? await client.query(
            `SELECT * FROM settle_webhook_events($1, $2, $3, $4::uuid[], $5::text[], $6::uuid[], $7::text[],
                                                 $8::boolean[], $9, $10, $11, $12, $13::tid[])`,
            [...args, rows.map((row) => row.row_tid)],
          )
        : await client.query(
            `SELECT * FROM settle_webhook_events($1, $2, $3, $4::uuid[], $5::text[], $6::uuid[], $7::text[],
                                                 $8::boolean[], $9, $10, $11, $12)`,
            args,
          );
      expect(settled.rows).toEqual([]); // no failures to report
      const scans = (await scansSoFar()) - scansBefore;
      await client.query('COMMIT');
      return { claimed: rows, scans };
    } finally {
      client.release();
    }
  }

  async function threeEvents(prefix: string) {
    for (let i = 0; i < 3; i++) {
      await sendStripe(
        f.t.app,
        stripeEvent('customer.updated', { id: `cus_${prefix}${i}` }, `evt_${prefix}${i}`),
      );
    }
  }

  async function states(prefix: string) {
    return sql<{ event_id: string; status: string; attempts: number; handled: boolean }>(
      f.db.pool,
      `SELECT event_id, status, attempts, note = 'handled ' || id AS handled FROM webhook_events
        WHERE event_id LIKE $1 ORDER BY event_id`,
      [`evt_${prefix}%`],
    );
  }

  /** What threeEvents(prefix) looks like once each event is settled success, once, with its note. */
  const settledOnce = (prefix: string) =>
    [0, 1, 2].map((i) => ({ event_id: `evt_${prefix}${i}`, status: 'success', attempts: 1, handled: true }));

  it('settles an event whose row a statement of the batch moved, and every other one, exactly once', async () => {
    await threeEvents('moved');
    const { claimed } = await claimAndSettle(async (client, rows) => {
      // As a handler that wrote to its own event's row would: the row gets a new ctid.
      await client.query(`UPDATE webhook_events SET error = 'touched' WHERE id = $1`, [rows[1]!.id]);
      const [moved] = (
        await client.query<{ tid: string }>('SELECT ctid::text AS tid FROM webhook_events WHERE id = $1', [
          rows[1]!.id,
        ])
      ).rows;
      expect(moved?.tid).not.toBe(rows[1]!.row_tid);
    }, true);
    expect(claimed).toHaveLength(3);
    expect(await states('moved')).toEqual(settledOnce('moved'));
    expect(
      await sql(
        f.db.pool,
        `SELECT count(*)::int AS n FROM webhook_events WHERE event_id LIKE 'evt_moved%' AND error IS NOT NULL`,
      ),
    ).toEqual([{ n: 0 }]);
  });

  it('settles by id when the caller passes no row ids (a worker of the previous release)', async () => {
    await threeEvents('old');
    await claimAndSettle(async () => {}, false);
    expect(await states('old')).toEqual(settledOnce('old'));
  });

  it('finds the rows by TID scan, without the primary key; without row ids it uses the key', async () => {
    await threeEvents('plan');
    expect((await claimAndSettle(async () => {}, true)).scans).toBe(0);
    await threeEvents('keyed');
    expect((await claimAndSettle(async () => {}, false)).scans).toBeGreaterThan(0);
  });
});
