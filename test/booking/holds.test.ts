// Unpaid holds expire: the sweeper frees the slot and cancels the pending payment; idempotency
// records are purged after their retention; the expiry is counted in metrics.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bookAppointment, sweep } from '../../src/booking/service.js';
import { tenantContext } from '../../src/http/auth.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { type ClinicFixture, createClinic, createSlot } from '../helpers/fixtures.js';

describe('holds and retention', () => {
  let db: TestDatabase;
  let clinic: ClinicFixture;
  const metrics = createMetrics();
  beforeAll(async () => {
    db = await createTestDatabase();
    clinic = await createClinic(db.pool);
  });
  afterAll(() => db.drop());

  const deps = () => ({ pool: db.pool, metrics, holdMinutes: 15 });
  const patient = () =>
    tenantContext({
      sub: 'p0',
      role: 'patient',
      clinicId: clinic.clinicId,
      patientId: clinic.patientIds[0] ?? null,
    });

  it('holds a priced slot for CAREBOOK_HOLD_MINUTES', async () => {
    const slot = await createSlot(db.pool, clinic, { priceCents: 100, currency: 'USD' });
    const booked = await bookAppointment({ ...deps(), holdMinutes: 42 }, patient(), {
      slotId: slot,
      patientId: clinic.patientIds[0] ?? '',
      idempotencyKey: randomUUID(),
    });
    const [row] = await sql<{ minutes: number }>(
      db.pool,
      `SELECT round(extract(epoch FROM hold_expires_at - created_at) / 60)::int AS minutes FROM appointments WHERE id = $1`,
      [booked.body.appointment.id],
    );
    expect(row?.minutes).toBe(42);
  });

  it('expires a lapsed hold: slot freed, payment cancelled, audited, counted — and only lapsed ones', async () => {
    const lapsed = await createSlot(db.pool, clinic, { priceCents: 100, currency: 'USD' });
    const fresh = await createSlot(db.pool, clinic, { priceCents: 100, currency: 'USD' });
    const a = await bookAppointment(deps(), patient(), {
      slotId: lapsed,
      patientId: clinic.patientIds[0] ?? '',
      idempotencyKey: randomUUID(),
    });
    await bookAppointment(deps(), patient(), {
      slotId: fresh,
      patientId: clinic.patientIds[0] ?? '',
      idempotencyKey: randomUUID(),
    });
    await db.pool.query(
      `UPDATE appointments SET hold_expires_at = now() - interval '1 second' WHERE id = $1`,
      [a.body.appointment.id],
    );
    const before = (await metrics.holdsExpired.get()).values[0]?.value ?? 0;

    const result = await sweep({ pool: db.pool, metrics });
    expect(result.expired).toBe(1);
    expect(
      await sql(db.pool, 'SELECT status FROM appointments WHERE id = $1', [a.body.appointment.id]),
    ).toEqual([{ status: 'expired' }]);
    expect(
      await sql(db.pool, 'SELECT status FROM payments WHERE appointment_id = $1', [a.body.appointment.id]),
    ).toEqual([{ status: 'cancelled' }]);
    expect(
      await sql(
        db.pool,
        'SELECT id, is_available FROM appointment_slots WHERE id = ANY($1) ORDER BY is_available',
        [[lapsed, fresh]],
      ),
    ).toEqual([
      { id: fresh, is_available: false },
      { id: lapsed, is_available: true },
    ]);
    expect(
      await sql(
        db.pool,
        `SELECT actor FROM audit.audit_log WHERE action = 'appointment.expire' AND row_id = $1`,
        [a.body.appointment.id],
      ),
    ).toEqual([{ actor: 'sweeper' }]);
    expect((await metrics.holdsExpired.get()).values[0]?.value).toBe(before + 1);
    expect((await sweep({ pool: db.pool, metrics })).expired).toBe(0);
  });

  it('purges idempotency records past their retention, keeps younger ones', async () => {
    const key = randomUUID();
    const slot = await createSlot(db.pool, clinic);
    await bookAppointment(deps(), patient(), {
      slotId: slot,
      patientId: clinic.patientIds[0] ?? '',
      idempotencyKey: key,
    });
    const [row] = await sql<{ hours: number }>(
      db.pool,
      'SELECT extract(epoch FROM expires_at - created_at) / 3600 AS hours FROM booking_requests WHERE idempotency_key = $1',
      [key],
    );
    expect(Number(row?.hours)).toBeGreaterThanOrEqual(24);
    await db.pool.query(
      `UPDATE booking_requests SET expires_at = now() - interval '1 minute' WHERE idempotency_key = $1`,
      [key],
    );
    const kept =
      (await sql<{ n: number }>(db.pool, 'SELECT count(*)::int AS n FROM booking_requests'))[0]?.n ?? 0;
    expect((await sweep({ pool: db.pool, metrics })).purged).toBe(1);
    expect(await sql(db.pool, 'SELECT count(*)::int AS n FROM booking_requests')).toEqual([{ n: kept - 1 }]);
  });
});
