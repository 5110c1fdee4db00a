import { describe, expect, it } from 'vitest';
import { sql } from '../helpers/db.js';
import { createSlot } from '../helpers/fixtures.js';
import { outboundSuite } from '../helpers/outbound-suite.js';
import { outboxOf } from '../helpers/outbox.js';

describe('cancel_outbox against a claim in progress', () => {
  const s = outboundSuite({ patients: 1, phonePrefix: '+1555060' });

  it('an expiring hold neither waits for nor deadlocks with the claim of its PaymentIntent', async () => {
    const slot = await createSlot(s.db.pool, s.clinic, { priceCents: 3000, startsInMinutes: 2 * 24 * 60 });
    const appointment = (await s.book(slot)).appointment.id;

    const claim = await s.db.pool.connect();
    const expiry = await s.db.pool.connect();
    try {
      // The worker's claim, up to its first lock: the job of the PaymentIntent's create.
      await claim.query('BEGIN');
      const jobs = await claim.query<{ ref: string }>(
        `SELECT ref FROM claim_queue_jobs('outbox.payment', 'lock-order-test', 10, 60, 5, NULL, NULL)`,
      );
      expect(jobs.rows).toHaveLength(1);

      // The hold lapses meanwhile; the expiry must finish without waiting for the claim.
      await expiry.query(`SET lock_timeout = '5s'`);
      await expiry.query(
        `UPDATE appointments SET hold_expires_at = now() - interval '1 minute' WHERE id = $1`,
        [appointment],
      );
      await expiry.query('BEGIN');
      await expiry.query('SELECT expire_unpaid_holds()');

      // The claim goes on to mark the create in flight, while the expiry is still open.
      await claim.query(`SET LOCAL lock_timeout = '5s'`);
      const delivered = await claim.query('SELECT id, status FROM outbox_deliveries($1::uuid[])', [
        jobs.rows.map((job) => job.ref),
      ]);
      expect(delivered.rows).toHaveLength(1);
      await expiry.query('COMMIT');
      await claim.query('COMMIT');
    } finally {
      claim.release();
      expiry.release();
    }

    const [status] = await sql<{ status: string }>(
      s.db.pool,
      'SELECT status FROM appointments WHERE id = $1',
      [appointment],
    );
    expect(status?.status).toBe('expired');
    // The create was the claim's to finish; the expiry asked for the PaymentIntent's cancel after it.
    const rows = await outboxOf(s.db.pool, appointment);
    expect(rows.filter((row) => row.kind.startsWith('payment')).map((row) => [row.kind, row.status])).toEqual(
      [
        ['payment', 'in_flight'],
        ['payment_cancel', 'pending'],
      ],
    );
  });
});
