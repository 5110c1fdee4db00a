// An in-transaction batch sends its settle with the COMMIT right behind it (pipelined). A settle
// that fails must still undo the whole batch — the handlers' effects with it — and the batch must
// fail with the settle's own error, not with the rolled-back COMMIT's.
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import type { InTransactionKind } from '../../src/queue/kind.js';
import { QueueWorker } from '../../src/queue/worker.js';
import type { ClaimedEvent } from '../../src/webhooks/handlers/index.js';
import { webhookKind } from '../../src/webhooks/queue-kind.js';
import { sql } from '../helpers/db.js';
import { sendStripe, stripeEvent } from '../helpers/webhooks.js';
import { useWorkerFixture } from '../helpers/worker-fixture.js';

describe('in-transaction settle, pipelined with its COMMIT', () => {
  const f = useWorkerFixture();

  function workerWith(change: (kind: InTransactionKind<ClaimedEvent>) => InTransactionKind<ClaimedEvent>) {
    const kind = webhookKind(f.config.worker, f.t.metrics, f.config.outbound.reminderOffsetsSeconds);
    return new QueueWorker({
      pool: f.workerPool,
      listenUrl: null,
      logger: createLogger('silent'),
      metrics: f.t.metrics,
      kinds: [change(kind)],
      jitter: 1,
    });
  }

  it('a failing settle rolls back the handlers’ effects and the batch fails with its error', async () => {
    const probe = await f.workerPool.connect();
    expect(probe.pipeline).toBe(true); // the path under test: settle and COMMIT sent together
    probe.release();
    await f.db.pool.query('CREATE TABLE test_effects (event_id text PRIMARY KEY)');
    await f.db.pool.query('GRANT SELECT, INSERT ON test_effects TO carebook_worker');
    for (const n of [1, 2, 3]) {
      await sendStripe(f.t.app, stripeEvent('customer.updated', { id: `cus_s${n}` }, `evt_settle_${n}`));
    }
    // Every event gets an effect; the settle is the kind's own statement, made to fail at its end.
    const failing = workerWith((kind) => ({
      ...kind,
      handlerFor: () => async (tx, event) => {
        await tx.query('INSERT INTO test_effects (event_id) VALUES ($1)', [event.eventId]);
        return 'effect written';
      },
      settle: (settlement) => {
        const statement = kind.settle(settlement);
        return { ...statement, text: `${statement.text} UNION ALL SELECT NULL::uuid, (1 / 0)::text` };
      },
    }));
    await expect(failing.runOnce()).rejects.toThrow(/division by zero/);
    expect(await sql(f.db.pool, 'SELECT count(*)::int AS n FROM test_effects')).toEqual([{ n: 0 }]);
    expect(
      await sql(
        f.db.pool,
        `SELECT status, count(*)::int AS n FROM webhook_events WHERE event_id LIKE 'evt_settle_%' GROUP BY status`,
      ),
    ).toEqual([{ status: 'pending', n: 3 }]);

    // The same kind with its real settle: the next claim counts the attempt the failed batch made
    // (its record survived it) and the events are retried, their effects written once.
    const healthy = workerWith((kind) => ({
      ...kind,
      handlerFor: () => async (tx, event) => {
        await tx.query('INSERT INTO test_effects (event_id) VALUES ($1)', [event.eventId]);
        return 'effect written';
      },
    }));
    await healthy.drain();
    await f.db.pool.query(
      `UPDATE webhook_events SET next_attempt_at = now() WHERE event_id LIKE 'evt_settle_%'`,
    );
    await healthy.drain();
    expect(
      await sql(
        f.db.pool,
        `SELECT status, attempts, note FROM webhook_events WHERE event_id LIKE 'evt_settle_%' ORDER BY event_id`,
      ),
    ).toEqual([1, 2, 3].map(() => ({ status: 'success', attempts: 2, note: 'effect written' })));
    expect(await sql(f.db.pool, 'SELECT count(*)::int AS n FROM test_effects')).toEqual([{ n: 3 }]);
  });
});
