// Booking incident, hold leak: tools/expire_holds.sh expires lapsed holds (as the sweeper would),
// frees their slots so they can be booked again, and says so when it cannot.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { type ClinicFixture, createClinic, createSlot } from '../helpers/fixtures.js';
import { bookHold, runTool } from './run-tool.js';

describe('tools/expire_holds.sh', () => {
  let db: TestDatabase;
  let clinic: ClinicFixture;
  beforeAll(async () => {
    db = await createTestDatabase();
    clinic = await createClinic(db.pool, { patients: 3 });
  });
  afterAll(() => db.drop());

  const script = (args: string[] = []) => runTool('expire_holds.sh', args, { DATABASE_URL: db.url });
  const lapse = (appointmentId: string) =>
    db.pool.query(`UPDATE appointments SET hold_expires_at = now() - interval '10 minutes' WHERE id = $1`, [
      appointmentId,
    ]);

  it('expires a lapsed hold: appointment expired, payment cancelled, slot free and bookable again', async () => {
    const lapsedSlot = await createSlot(db.pool, clinic, { priceCents: 2500 });
    const freshSlot = await createSlot(db.pool, clinic, { priceCents: 2500 });
    const lapsed = await bookHold(db, clinic, lapsedSlot, 0);
    const fresh = await bookHold(db, clinic, freshSlot, 1);
    await lapse(lapsed.appointmentId);

    const dryRun = await script(['--dry-run']);
    expect(dryRun.code).toBe(1);
    expect(dryRun.stdout).toContain('holds overdue for expiry (lapsed more than 2 minutes ago): 1');
    expect(
      await sql(db.pool, 'SELECT status FROM appointments WHERE id = $1', [lapsed.appointmentId]),
    ).toEqual([{ status: 'pending_payment' }]);

    const result = await script();
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('expired 1 hold(s) in 1 sweep(s); holds overdue now: 0');
    expect(
      await sql(
        db.pool,
        `SELECT a.id, a.status, p.status AS payment, s.is_available, s.appointment_id
           FROM appointments a JOIN payments p ON p.appointment_id = a.id JOIN appointment_slots s ON s.id = a.slot_id
          WHERE a.id = ANY($1) ORDER BY a.status`,
        [[lapsed.appointmentId, fresh.appointmentId]],
      ),
    ).toEqual([
      {
        id: lapsed.appointmentId,
        status: 'expired',
        payment: 'cancelled',
        is_available: true,
        appointment_id: null,
      },
      {
        id: fresh.appointmentId,
        status: 'pending_payment',
        payment: 'pending',
        is_available: false,
        appointment_id: fresh.appointmentId,
      },
    ]);
    expect(
      await sql(
        db.pool,
        `SELECT actor FROM audit.audit_log WHERE action = 'appointment.expire' AND row_id = $1`,
        [lapsed.appointmentId],
      ),
    ).toEqual([{ actor: 'sweeper' }]);

    // The freed slot can be booked by someone else.
    await bookHold(db, clinic, lapsedSlot, 2);

    const again = await script(['--dry-run']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('lapsed more than 2 minutes ago): 0');
  });

  it('exits 1 while a lapsed hold stays locked by another transaction, and succeeds once it is released', async () => {
    const slot = await createSlot(db.pool, clinic, { priceCents: 2500 });
    const hold = await bookHold(db, clinic, slot, 0);
    await lapse(hold.appointmentId);
    const blocker = await db.pool.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('SELECT id FROM appointments WHERE id = $1 FOR UPDATE', [hold.appointmentId]);
      const blocked = await script();
      expect(blocked.code).toBe(1);
      expect(blocked.stdout).toContain('holds overdue now: 1');
      expect(blocked.stderr).toContain('locked by another transaction');
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
    }
    const released = await script();
    expect(released.code, released.stderr).toBe(0);
    expect(released.stdout).toContain('expired 1 hold(s)');
  });

  it('refuses to run without DATABASE_URL or with an unknown option', async () => {
    const noUrl = await runTool('expire_holds.sh', []);
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toContain('DATABASE_URL is not set');
    expect((await script(['--now'])).code).toBe(2);
  });
});
