// The worker against the real procedures: retries with growing backoff, dead letters, replay,
// ignored and unreadable events, batches that did not commit, and several workers sharing one queue.
import { describe, expect, it } from 'vitest';
import { MAX_SAVEPOINTS } from '../../src/queue/in-transaction.js';
import { recordBatch } from '../../src/queue/store.js';
import { replayEvents } from '../../src/webhooks/replay.js';
import { metricsOf } from '../helpers/app.js';
import { sql } from '../helpers/db.js';
import { until } from '../helpers/until.js';
import { paymentIntent, sendStripe, stripeEvent } from '../helpers/webhooks.js';
import { useWorkerFixture } from '../helpers/worker-fixture.js';

describe('webhook worker', () => {
  const f = useWorkerFixture();

  it('retries an early refund with growing backoff, dead-letters it past the limit, and replay applies it once', async () => {
    const { payment } = await f.pendingBooking(0, { startsInMinutes: 60 * 24 * 40 });
    const intent = paymentIntent(payment.id);
    const refund = stripeEvent(
      'charge.refunded',
      { id: 'ch_1', object: 'charge', payment_intent: intent.id },
      'evt_refund_early',
    );
    await sendStripe(f.t.app, refund);
    const limited = f.worker({ maxAttempts: 3 });
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      await limited.drain();
      const state = await f.event('evt_refund_early');
      expect(state?.attempts).toBe(attempt);
      if (attempt < 3) {
        expect(state).toMatchObject({ status: 'failed', error: expect.stringContaining('no payment') });
        delays.push(Math.round(state?.delay ?? 0));
        await f.makeDue('evt_refund_early');
      }
    }
    expect(delays).toEqual([5, 10]);
    expect((await f.event('evt_refund_early'))?.status).toBe('dead_letter');
    const metrics = await metricsOf(f.t.app);
    expect(metrics).toMatch(/webhook_dead_letters\{provider="stripe"\} [1-9]/);

    // The PaymentIntent becomes known; the dead letter is replayed and now applies, once.
    await sendStripe(f.t.app, stripeEvent('payment_intent.succeeded', intent));
    await limited.drain();
    const [row] = await sql<{ id: string }>(
      f.db.pool,
      `SELECT id FROM webhook_events WHERE event_id = 'evt_refund_early'`,
    );
    const report = await replayEvents(
      { pool: f.db.pool, webhooks: f.config.webhooks },
      { status: 'dead_letter', ids: [row!.id] },
      {
        reason: 'payment intent now known',
        actor: 'test-operator',
        dryRun: false,
      },
    );
    expect(report).toMatchObject({ replayed: 1, skipped: [] });
    await limited.drain();
    expect(await f.event('evt_refund_early')).toMatchObject({
      status: 'success',
      attempts: 1,
      note: 'payment refunded',
    });
    expect(await sql(f.db.pool, 'SELECT status FROM payments WHERE id = $1', [payment.id])).toEqual([
      { status: 'refunded' },
    ]);
    const again = await replayEvents(
      { pool: f.db.pool, webhooks: f.config.webhooks },
      { status: 'dead_letter', ids: [row!.id] },
      {
        reason: 'second try',
        actor: 'test-operator',
        dryRun: false,
      },
    );
    expect(again.replayed).toBe(0);
    expect(
      await sql(
        f.db.pool,
        `SELECT actor, reason, details ->> 'replayed' AS n FROM audit.audit_log WHERE action = 'webhook.replay' ORDER BY id`,
      ),
    ).toEqual([
      { actor: 'test-operator', reason: 'payment intent now known', n: '1' },
      { actor: 'test-operator', reason: 'second try', n: '0' },
    ]);
  });

  it('ignores event types it has no handler for, and dead-letters an unreadable body at once', async () => {
    const counted = async () => {
      const text = await metricsOf(f.t.app);
      const value = (series: string) => Number(text.match(new RegExp(`^${series} (\\d+)$`, 'm'))?.[1] ?? 0);
      return {
        ignored: value('webhook_processed_total\\{provider="stripe",outcome="ignored"\\}'),
        dead: value('webhook_processed_total\\{provider="stripe",outcome="dead_letter"\\}'),
        settledIgnored: value('queue_items_settled_total\\{kind="webhooks",outcome="ignored"\\}'),
        settledDead: value('queue_items_settled_total\\{kind="webhooks",outcome="dead_letter"\\}'),
      };
    };
    const before = await counted();
    await sendStripe(f.t.app, stripeEvent('customer.created', { id: 'cus_1' }, 'evt_ignored'));
    await sendStripe(f.t.app, stripeEvent('customer.deleted', { id: 'cus_1' }, 'evt_ignored_too'));
    await sendStripe(f.t.app, '{"looks":"like nothing we know"}');
    await f.worker().drain();
    // One batch settles all three: the metrics count each event once, by provider and outcome.
    const after = await counted();
    expect({
      ignored: after.ignored - before.ignored,
      dead: after.dead - before.dead,
      settledIgnored: after.settledIgnored - before.settledIgnored,
      settledDead: after.settledDead - before.settledDead,
    }).toEqual({ ignored: 2, dead: 1, settledIgnored: 2, settledDead: 1 });
    expect(await f.event('evt_ignored')).toMatchObject({
      status: 'success',
      note: 'ignored: no handler for customer.created',
    });
    const [unreadable] = await sql(
      f.db.pool,
      `SELECT status, attempts FROM webhook_events WHERE event_type = 'unparseable'`,
    );
    expect(unreadable).toEqual({ status: 'dead_letter', attempts: 1 });
  });

  it('a batch that did not commit counts an attempt, and its events are retried one at a time', async () => {
    await sendStripe(f.t.app, stripeEvent('customer.updated', { id: 'cus_2' }, 'evt_orphan'));
    // A worker that claimed and recorded its batch, then died: its connection is destroyed with
    // the transaction open (the claim's row locks and the batch's advisory lock go with it).
    const doomed = await f.db.pool.connect();
    const [{ pid }] = (await doomed.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows as [
      { pid: number },
    ];
    await doomed.query('BEGIN');
    await doomed.query(`SELECT set_config('role', 'carebook_worker', true)`);
    const claimed = await doomed.query<{ batch: string; id: string }>(
      `SELECT batch::text, id FROM claim_webhook_events(100, false, 8, 5, 3600)`,
    );
    const ids = claimed.rows.map((row) => row.id);
    expect(ids.length).toBeGreaterThan(0);
    await recordBatch(f.db.pool, 'doomed', 'webhooks', claimed.rows[0]!.batch, ids);
    doomed.release(new Error('the worker died'));
    // Closing the socket does not end the backend at once: until it has exited, its locks are
    // held and the batch still looks live (CI once drained before that, and found nothing to do).
    await until(
      async () => (await sql(f.db.pool, 'SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).length === 0,
      'the dead worker’s backend exited',
    );
    const rescuer = f.worker({}, 'rescuer');
    await rescuer.drain();
    // Counted and backed off like any failure (full jitter fixed at 1 here: 5 s), then retried.
    expect(await f.event('evt_orphan')).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: expect.stringContaining('its batch did not commit'),
    });
    await f.makeDue('evt_orphan');
    await rescuer.drain();
    expect(await f.event('evt_orphan')).toMatchObject({ status: 'success', attempts: 2, error: null });
    expect(await sql(f.db.pool, 'SELECT count(*)::int AS n FROM queue_batches')).toEqual([{ n: 0 }]);
  });

  it('several workers on one queue handle every event exactly once', async () => {
    const ids = Array.from({ length: 300 }, (_, i) => `evt_many_${i}`);
    await Promise.all(
      ids.map((id) => sendStripe(f.t.app, stripeEvent('charge.captured', { id: `ch_${id}` }, id))),
    );
    const crew = [
      f.worker({ concurrency: 2, batchSize: 10 }),
      f.worker({ concurrency: 2, batchSize: 10 }),
      f.worker({ concurrency: 2, batchSize: 10 }),
    ];
    for (const member of crew) member.start();
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const [left] = await sql<{ n: number }>(
        f.db.pool,
        `SELECT count(*)::int AS n FROM webhook_events WHERE event_id LIKE 'evt_many_%' AND status <> 'success'`,
      );
      if (left?.n === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await Promise.all(crew.map((member) => member.stop()));
    const rows = await sql<{ attempts: number; processed_by: string }>(
      f.db.pool,
      `SELECT attempts, processed_by FROM webhook_events WHERE event_id LIKE 'evt_many_%' AND status = 'success'`,
    );
    expect(rows).toHaveLength(300);
    expect(rows.every((row) => row.attempts === 1)).toBe(true);
    expect(new Set(rows.map((row) => row.processed_by)).size).toBeGreaterThan(1);
    expect(await sql(f.db.pool, 'SELECT count(*)::int AS n FROM queue_batches')).toEqual([{ n: 0 }]);
  });

  it('stops a batch after MAX_SAVEPOINTS handlers that ran SQL, leaves the rest unattempted, and claims fewer next', async () => {
    // Refunds for PaymentIntents nobody knows: each handler looks its payment up (SQL, so a
    // savepoint) and fails, to be retried later; none is due again within this test.
    const count = MAX_SAVEPOINTS * 2 + 20;
    for (let i = 0; i < count; i++) {
      const refund = { id: `ch_cap_${i}`, object: 'charge', payment_intent: `pi_cap_${i}` };
      expect(
        (await sendStripe(f.t.app, stripeEvent('charge.refunded', refund, `evt_cap_${i}`))).statusCode,
      ).toBe(200);
    }
    const attempted = async () =>
      (
        await sql<{ n: number }>(
          f.db.pool,
          `SELECT count(*)::int AS n FROM webhook_events WHERE event_id LIKE 'evt_cap_%' AND attempts > 0`,
        )
      )[0]?.n;
    const worker = f.worker({ batchSize: 500 });
    expect(await worker.runOnce()).toBe(count); // one claim of all of them …
    expect(await attempted()).toBe(MAX_SAVEPOINTS); // … of which the first 50 were handled
    expect(await worker.runOnce()).toBe(MAX_SAVEPOINTS); // the next claim takes what one batch handles
    expect(await attempted()).toBe(MAX_SAVEPOINTS * 2);
    expect(await worker.runOnce()).toBe(20);
    expect(await attempted()).toBe(count);
    expect(
      await sql(
        f.db.pool,
        `SELECT status, attempts, count(*)::int AS n FROM webhook_events WHERE event_id LIKE 'evt_cap_%' GROUP BY 1, 2`,
      ),
    ).toEqual([{ status: 'failed', attempts: 1, n: count }]);
  });
});
