// The appointment API end to end through app.inject: booking, idempotent retries, conflicts,
// cancel, reschedule, reads scoped by role, and the audit trail each write leaves.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { type ClinicFixture, createClinic, createSlot } from '../helpers/fixtures.js';

describe('appointments API', () => {
  let db: TestDatabase;
  let t: TestApp;
  let clinic: ClinicFixture;
  let other: ClinicFixture;
  let patientAuth: Record<string, string>;
  let staffAuth: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await buildTestApp(db);
    clinic = await createClinic(db.pool, { patients: 3 });
    other = await createClinic(db.pool);
    patientAuth = await bearer({
      role: 'patient',
      clinic_id: clinic.clinicId,
      patient_id: clinic.patientIds[0],
      sub: 'patient-0',
    });
    staffAuth = await bearer({ role: 'staff', clinic_id: clinic.clinicId, sub: 'staff-1' });
  });
  afterAll(async () => {
    await t.close();
    await db.drop();
  });

  const book = (headers: Record<string, string>, body: object, key: string | null = randomUUID()) =>
    t.app.inject({
      method: 'POST',
      url: '/api/appointments',
      headers: { ...headers, ...(key === null ? {} : { 'idempotency-key': key }) },
      payload: body,
    });

  it('books a priced slot as pending_payment with a pending payment, and audits it', async () => {
    const slot = await createSlot(db.pool, clinic, { priceCents: 5000, currency: 'USD' });
    const response = await book(patientAuth, { slot_id: slot, notes: 'knee pain' });
    expect(response.statusCode).toBe(201);
    const body = response.json();
    expect(body).toEqual({
      appointment: {
        id: expect.any(String),
        clinic_id: clinic.clinicId,
        slot_id: slot,
        patient_id: clinic.patientIds[0],
        status: 'pending_payment',
        starts_at: expect.stringMatching(/Z$/),
        ends_at: expect.stringMatching(/Z$/),
        visit_type: 'in_person',
        hold_expires_at: expect.stringMatching(/Z$/),
      },
      payment: { id: expect.any(String), status: 'pending', amount_cents: 5000, currency: 'USD' },
    });
    const [row] = await sql(
      db.pool,
      'SELECT is_available, appointment_id FROM appointment_slots WHERE id = $1',
      [slot],
    );
    expect(row).toEqual({ is_available: false, appointment_id: body.appointment.id });
    const audit = await sql<{ action: string; table_name: string }>(
      db.pool,
      `SELECT action, table_name FROM audit.audit_log WHERE txid = (SELECT txid FROM audit.audit_log WHERE row_id = $1 AND action = 'appointment.book')
        ORDER BY id`,
      [body.appointment.id],
    );
    expect(audit.map((a) => `${a.action}:${a.table_name}`)).toEqual([
      'insert:appointments',
      'insert:payments',
      'update:appointment_slots',
      'appointment.book:appointments',
    ]);
    const [notes] = await sql(
      db.pool,
      `SELECT new_values ? 'notes' AS has_notes FROM audit.audit_log WHERE row_id = $1 AND action = 'insert'`,
      [body.appointment.id],
    );
    expect(notes).toEqual({ has_notes: false });
  });

  it('confirms a free slot at once, with no payment', async () => {
    const slot = await createSlot(db.pool, clinic);
    const response = await book(staffAuth, { slot_id: slot, patient_id: clinic.patientIds[1] });
    expect(response.statusCode).toBe(201);
    expect(response.json()).toMatchObject({
      appointment: { status: 'confirmed', hold_expires_at: null },
      payment: null,
    });
  });

  it('replays a retry with the same key: same status and body, Idempotent-Replayed, one appointment', async () => {
    const slot = await createSlot(db.pool, clinic, { priceCents: 1200, currency: 'EUR' });
    const key = randomUUID();
    const first = await book(patientAuth, { slot_id: slot }, key);
    const second = await book(patientAuth, { slot_id: slot }, key);
    expect(first.statusCode).toBe(201);
    expect(second.statusCode).toBe(201);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(second.body).toBe(first.body);
    expect(
      await sql(db.pool, 'SELECT count(*)::int AS n FROM appointments WHERE slot_id = $1', [slot]),
    ).toEqual([{ n: 1 }]);
  });

  it('refuses the same key for a different request with 422 idempotency_key_reused', async () => {
    const [a, b] = [await createSlot(db.pool, clinic), await createSlot(db.pool, clinic)];
    const key = randomUUID();
    expect((await book(patientAuth, { slot_id: a }, key)).statusCode).toBe(201);
    const reused = await book(patientAuth, { slot_id: b }, key);
    expect(reused.statusCode).toBe(422);
    expect(reused.json()).toMatchObject({ code: 'idempotency_key_reused' });
    expect(await sql(db.pool, 'SELECT is_available FROM appointment_slots WHERE id = $1', [b])).toEqual([
      { is_available: true },
    ]);
  });

  it('scopes keys per client: another client may use the same key', async () => {
    const [a, b] = [await createSlot(db.pool, clinic), await createSlot(db.pool, clinic)];
    const key = randomUUID();
    expect((await book(patientAuth, { slot_id: a }, key)).statusCode).toBe(201);
    const staff = await book(staffAuth, { slot_id: b, patient_id: clinic.patientIds[2] }, key);
    expect(staff.statusCode).toBe(201);
    expect(staff.headers['idempotent-replayed']).toBeUndefined();
  });

  it('needs an Idempotency-Key', async () => {
    const slot = await createSlot(db.pool, clinic);
    const missing = await book(patientAuth, { slot_id: slot }, null);
    expect(missing.statusCode).toBe(400);
    expect(missing.json()).toMatchObject({ code: 'missing_idempotency_key' });
    const invalid = await book(patientAuth, { slot_id: slot }, 'has spaces in it');
    expect(invalid.json()).toMatchObject({ code: 'invalid_idempotency_key' });
  });

  it('answers 409 slot_unavailable for a taken or past slot and 404 slot_not_found for an unknown or foreign one', async () => {
    const taken = await createSlot(db.pool, clinic);
    await book(patientAuth, { slot_id: taken });
    const again = await book(staffAuth, { slot_id: taken, patient_id: clinic.patientIds[1] });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: 'slot_unavailable', status: 409 });
    const past = await createSlot(db.pool, clinic, { startsInMinutes: -60 });
    expect((await book(patientAuth, { slot_id: past })).json()).toMatchObject({ code: 'slot_unavailable' });
    expect((await book(patientAuth, { slot_id: randomUUID() })).json()).toMatchObject({
      code: 'slot_not_found',
      status: 404,
    });
    const foreign = await createSlot(db.pool, other);
    expect((await book(patientAuth, { slot_id: foreign })).statusCode).toBe(404);
    expect(
      await sql(db.pool, 'SELECT count(*)::int AS n FROM appointments WHERE slot_id = $1', [foreign]),
    ).toEqual([{ n: 0 }]);
  });

  it('lets patients book only for themselves and makes staff name a patient of their clinic', async () => {
    const slot = await createSlot(db.pool, clinic);
    expect((await book(patientAuth, { slot_id: slot, patient_id: clinic.patientIds[1] })).statusCode).toBe(
      403,
    );
    expect((await book(staffAuth, { slot_id: slot })).json()).toMatchObject({ code: 'validation_error' });
    expect((await book(staffAuth, { slot_id: slot, patient_id: other.patientIds[0] })).json()).toMatchObject({
      code: 'patient_not_found',
    });
  });

  it('refuses a second active appointment overlapping in time for one patient (409 patient_double_booked)', async () => {
    const a = await createSlot(db.pool, clinic, { startsInMinutes: 90 * 24 * 60 });
    const second = await db.pool.query(
      `INSERT INTO users (clinic_id, role, full_name, email) VALUES ($1, 'practitioner', 'Dr Two', $2) RETURNING id`,
      [clinic.clinicId, `two-${randomUUID()}@test.example`],
    );
    const b = await createSlot(
      db.pool,
      { ...clinic, practitionerId: second.rows[0].id },
      { startsInMinutes: 90 * 24 * 60 + 10 },
    );
    expect((await book(patientAuth, { slot_id: a })).statusCode).toBe(201);
    const clash = await book(patientAuth, { slot_id: b });
    expect(clash.statusCode).toBe(409);
    expect(clash.json()).toMatchObject({ code: 'patient_double_booked' });
  });

  it('cancels (idempotently), frees the slot and cancels a pending payment; others cannot cancel it', async () => {
    const slot = await createSlot(db.pool, clinic, { priceCents: 900, currency: 'USD' });
    const booked = (await book(patientAuth, { slot_id: slot })).json();
    const id = booked.appointment.id;
    const otherPatient = await bearer({
      role: 'patient',
      clinic_id: clinic.clinicId,
      patient_id: clinic.patientIds[1],
    });
    const foreign = await t.app.inject({
      method: 'POST',
      url: `/api/appointments/${id}/cancel`,
      headers: otherPatient,
    });
    expect(foreign.statusCode).toBe(404);
    const cancel = () =>
      t.app.inject({
        method: 'POST',
        url: `/api/appointments/${id}/cancel`,
        headers: patientAuth,
        payload: { reason: 'feeling better' },
      });
    const first = await cancel();
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({
      appointment: { status: 'cancelled' },
      payment: { status: 'cancelled' },
    });
    expect((await cancel()).statusCode).toBe(200);
    expect(
      await sql(db.pool, 'SELECT is_available, appointment_id FROM appointment_slots WHERE id = $1', [slot]),
    ).toEqual([{ is_available: true, appointment_id: null }]);
    expect((await book(staffAuth, { slot_id: slot, patient_id: clinic.patientIds[2] })).statusCode).toBe(201);
    await db.pool.query(
      `UPDATE appointments SET status = 'completed' WHERE slot_id = $1 AND status = 'pending_payment'`,
      [slot],
    );
    const completed = (
      await sql<{ id: string }>(
        db.pool,
        `SELECT id FROM appointments WHERE slot_id = $1 AND status = 'completed'`,
        [slot],
      )
    )[0];
    const refused = await t.app.inject({
      method: 'POST',
      url: `/api/appointments/${completed?.id}/cancel`,
      headers: staffAuth,
    });
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ code: 'appointment_not_active' });
  });

  it('reschedules to a free slot of the same price, atomically and idempotently', async () => {
    const from = await createSlot(db.pool, clinic, { priceCents: 700, currency: 'USD' });
    const to = await createSlot(db.pool, clinic, { priceCents: 700, currency: 'USD' });
    const dearer = await createSlot(db.pool, clinic, { priceCents: 9900, currency: 'USD' });
    const id = (await book(patientAuth, { slot_id: from })).json().appointment.id;
    const move = (slot: string, key: string) =>
      t.app.inject({
        method: 'POST',
        url: `/api/appointments/${id}/reschedule`,
        headers: { ...patientAuth, 'idempotency-key': key },
        payload: { new_slot_id: slot },
      });
    expect((await move(dearer, randomUUID())).json()).toMatchObject({ code: 'reschedule_price_mismatch' });
    const key = randomUUID();
    const moved = await move(to, key);
    expect(moved.statusCode).toBe(200);
    expect(moved.json()).toMatchObject({ appointment: { id, slot_id: to, status: 'pending_payment' } });
    const replay = await move(to, key);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toBe(moved.body);
    const slots = await sql(
      db.pool,
      'SELECT id, is_available FROM appointment_slots WHERE id = ANY($1) ORDER BY is_available',
      [[from, to]],
    );
    expect(slots).toEqual([
      { id: to, is_available: false },
      { id: from, is_available: true },
    ]);
    expect((await move(to, randomUUID())).statusCode).toBe(200); // already there: nothing to do
    const taken = await createSlot(db.pool, clinic, { priceCents: 700, currency: 'USD' });
    await book(staffAuth, { slot_id: taken, patient_id: clinic.patientIds[2] });
    expect((await move(taken, randomUUID())).json()).toMatchObject({ code: 'slot_unavailable' });
  });

  it('reads: patients see their own appointments, staff see the clinic, other clinics see nothing', async () => {
    const mine = (await book(patientAuth, { slot_id: await createSlot(db.pool, clinic) })).json().appointment
      .id;
    const list = await t.app.inject({
      method: 'GET',
      url: '/api/appointments?limit=500',
      headers: patientAuth,
    });
    const ids = list.json().appointments.map((a: { patient_id: string }) => a.patient_id);
    expect(new Set(ids)).toEqual(new Set([clinic.patientIds[0]]));
    const staffList = await t.app.inject({
      method: 'GET',
      url: '/api/appointments?limit=500&status=confirmed',
      headers: staffAuth,
    });
    expect(staffList.json().appointments.every((a: { status: string }) => a.status === 'confirmed')).toBe(
      true,
    );
    expect(
      (await t.app.inject({ method: 'GET', url: `/api/appointments/${mine}`, headers: patientAuth }))
        .statusCode,
    ).toBe(200);
    const foreignStaff = await bearer({ role: 'staff', clinic_id: other.clinicId });
    const foreign = await t.app.inject({
      method: 'GET',
      url: `/api/appointments/${mine}`,
      headers: foreignStaff,
    });
    expect(foreign.statusCode).toBe(404);
  });
});
