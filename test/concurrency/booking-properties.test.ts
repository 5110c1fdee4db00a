// Randomised interleavings (fast-check) of book / cancel / reschedule / expire from many clients,
// run in concurrent waves against the real procedures. After every run the invariants must hold:
//   1. no slot has two active appointments;
//   2. each slot's is_available / appointment_id agree with its appointments;
//   3. no patient holds two overlapping active appointments;
//   4. the audit trail matches the transitions (one book row per appointment, one cancel/expire row
//      per cancelled/expired one, one reschedule row per slot move, last audited status = status).
// Only domain refusals (CB0nn) may come back; anything else fails the run.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bookAppointment,
  cancelAppointment,
  rescheduleAppointment,
  sweep,
} from '../../src/booking/service.js';
import type { TenantContext } from '../../src/db/tenant.js';
import { tenantContext } from '../../src/http/auth.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { createClinic, createSlot } from '../helpers/fixtures.js';

const PATIENTS = 4;
const SLOTS = 6;

type Op =
  | { kind: 'book'; patient: number; slot: number; key: number; asStaff: boolean }
  | { kind: 'cancel'; slot: number }
  | { kind: 'reschedule'; from: number; to: number; key: number }
  | { kind: 'expire'; slot: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('book' as const),
      patient: fc.nat(PATIENTS - 1),
      slot: fc.nat(SLOTS - 1),
      key: fc.nat(2),
      asStaff: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), slot: fc.nat(SLOTS - 1) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('reschedule' as const),
      from: fc.nat(SLOTS - 1),
      to: fc.nat(SLOTS - 1),
      key: fc.nat(2),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('expire' as const), slot: fc.nat(SLOTS - 1) }) },
);

describe('booking invariants under random concurrent interleavings', () => {
  let db: TestDatabase;
  const metrics = createMetrics();
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  /** A fresh clinic per run: two practitioners, slots overlapping across them so patient overlap matters. */
  async function world() {
    const clinic = await createClinic(db.pool, { patients: PATIENTS });
    const second = await db.pool.query<{ id: string }>(
      `INSERT INTO users (clinic_id, role, full_name, email) VALUES ($1, 'practitioner', 'Dr B', $2) RETURNING id`,
      [clinic.clinicId, `b-${clinic.clinicId}@test.example`],
    );
    const base = 10 * 24 * 60 + Math.floor(Math.random() * 1e6);
    const slots: string[] = [];
    for (let i = 0; i < SLOTS; i++) {
      const practitionerId = i % 2 === 0 ? clinic.practitionerId : (second.rows[0]?.id ?? '');
      slots.push(
        await createSlot(
          db.pool,
          { ...clinic, practitionerId },
          {
            startsInMinutes: base + Math.floor(i / 2) * 30 + (i % 2) * 15,
            lengthMinutes: 30,
            ...(i % 3 === 0 ? {} : { priceCents: 1000, currency: 'USD' }),
          },
        ),
      );
    }
    const staff = tenantContext({
      sub: 'staff-1',
      role: 'staff',
      clinicId: clinic.clinicId,
      patientId: null,
    });
    const patients = clinic.patientIds.map((patientId, i) =>
      tenantContext({ sub: `patient-${i}`, role: 'patient', clinicId: clinic.clinicId, patientId }),
    );
    return { clinic, slots, staff, patients };
  }

  async function activeIn(slotId: string): Promise<string | null> {
    const rows = await sql<{ id: string }>(
      db.pool,
      `SELECT id FROM appointments WHERE slot_id = $1 AND status IN ('pending_payment', 'confirmed')`,
      [slotId],
    );
    return rows[0]?.id ?? null;
  }

  async function run(op: Op, w: Awaited<ReturnType<typeof world>>, salt: string): Promise<void> {
    const deps = { pool: db.pool, metrics, holdMinutes: 15 };
    switch (op.kind) {
      case 'book': {
        const context: TenantContext = op.asStaff ? w.staff : (w.patients[op.patient] as TenantContext);
        await bookAppointment(deps, context, {
          slotId: w.slots[op.slot] ?? '',
          patientId: w.clinic.patientIds[op.patient] ?? '',
          idempotencyKey: `${salt}-k${op.key}`,
        });
        return;
      }
      case 'cancel': {
        const id = await activeIn(w.slots[op.slot] ?? '');
        if (id) await cancelAppointment(deps, w.staff, { appointmentId: id });
        return;
      }
      case 'reschedule': {
        const id = await activeIn(w.slots[op.from] ?? '');
        if (id)
          await rescheduleAppointment(deps, w.staff, {
            appointmentId: id,
            newSlotId: w.slots[op.to] ?? '',
            idempotencyKey: `${salt}-r${op.key}`,
          });
        return;
      }
      case 'expire': {
        await db.pool.query(
          `UPDATE appointments SET hold_expires_at = now() - interval '1 second' WHERE slot_id = $1 AND status = 'pending_payment'`,
          [w.slots[op.slot]],
        );
        await sweep({ pool: db.pool, metrics });
        return;
      }
    }
  }

  async function checkInvariants(clinicId: string): Promise<void> {
    const doubleBooked = await sql(
      db.pool,
      `SELECT slot_id FROM appointments WHERE clinic_id = $1 AND status IN ('pending_payment', 'confirmed') GROUP BY slot_id HAVING count(*) > 1`,
      [clinicId],
    );
    expect(doubleBooked, 'a slot with two active appointments').toEqual([]);

    const flagMismatch = await sql(
      db.pool,
      `SELECT s.id FROM appointment_slots s
         LEFT JOIN appointments a ON a.slot_id = s.id AND a.status IN ('pending_payment', 'confirmed')
        WHERE s.clinic_id = $1
          AND (s.is_available IS DISTINCT FROM (a.id IS NULL AND s.status = 'open') OR s.appointment_id IS DISTINCT FROM a.id)`,
      [clinicId],
    );
    expect(flagMismatch, 'slot flag disagrees with appointments').toEqual([]);

    const overlaps = await sql(
      db.pool,
      `SELECT a.id FROM appointments a JOIN appointments b ON a.patient_id = b.patient_id AND a.id < b.id
        WHERE a.clinic_id = $1 AND a.status IN ('pending_payment', 'confirmed') AND b.status IN ('pending_payment', 'confirmed')
          AND tstzrange(a.starts_at, a.ends_at) && tstzrange(b.starts_at, b.ends_at)`,
      [clinicId],
    );
    expect(overlaps, 'a patient with overlapping active appointments').toEqual([]);

    const auditMismatch = await sql(
      db.pool,
      `WITH per AS (
         SELECT a.id, a.status,
           (SELECT count(*) FROM audit.audit_log l WHERE l.row_id = a.id AND l.action = 'appointment.book') AS booked,
           (SELECT count(*) FROM audit.audit_log l WHERE l.row_id = a.id AND l.action = 'appointment.cancel') AS cancelled,
           (SELECT count(*) FROM audit.audit_log l WHERE l.row_id = a.id AND l.action = 'appointment.expire') AS expired,
           (SELECT count(*) FROM audit.audit_log l WHERE l.row_id = a.id AND l.action = 'appointment.reschedule') AS moves,
           (SELECT count(*) FROM audit.audit_log l WHERE l.row_id = a.id AND l.action = 'update' AND 'slot_id' = ANY (l.changed_columns)) AS slot_updates,
           (SELECT l.new_values ->> 'status' FROM audit.audit_log l
             WHERE l.row_id = a.id AND l.table_name = 'appointments' AND l.action IN ('insert', 'update') ORDER BY l.id DESC LIMIT 1) AS audited_status
         FROM appointments a WHERE a.clinic_id = $1)
       SELECT * FROM per
        WHERE booked <> 1 OR cancelled <> (status = 'cancelled')::int OR expired <> (status = 'expired')::int
           OR moves <> slot_updates OR audited_status IS DISTINCT FROM status`,
      [clinicId],
    );
    expect(auditMismatch, 'audit rows disagree with transitions').toEqual([]);
  }

  it('hold for every generated run', async () => {
    let runNumber = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(opArb, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 4 }),
        async (waves) => {
          const w = await world();
          const salt = `run${runNumber++}`;
          for (const wave of waves) {
            const outcomes = await Promise.allSettled(wave.map((op) => run(op, w, salt)));
            for (const outcome of outcomes) {
              if (outcome.status === 'rejected') {
                const code = (outcome.reason as { code?: string }).code ?? '';
                expect(code, `unexpected failure: ${String(outcome.reason)}`).toMatch(/^CB00[1-8]$/);
              }
            }
          }
          await checkInvariants(w.clinic.clinicId);
        },
      ),
      { numRuns: 25 },
    );
  });
});
