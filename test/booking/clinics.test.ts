// Setting a clinic up through the API: clinics, practitioners, patients, slots (one or many,
// all-or-nothing, overlaps refused), and the slot listing filters.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';

describe('clinic setup API', () => {
  let db: TestDatabase;
  let t: TestApp;
  let admin: Record<string, string>;
  beforeAll(async () => {
    db = await createTestDatabase();
    t = await buildTestApp(db);
    admin = await bearer({ role: 'platform_admin', sub: 'ops-1' });
  });
  afterAll(async () => {
    await t.close();
    await db.drop();
  });

  const call = (method: 'GET' | 'POST', url: string, headers: Record<string, string>, payload?: object) =>
    t.app.inject({ method, url, headers, ...(payload ? { payload } : {}) });

  it('goes from nothing to a bookable slot without SQL', async () => {
    const created = await call('POST', '/api/clinics', admin, {
      name: 'Lakeside',
      slug: `lakeside-${Date.now()}`,
      timezone: 'Europe/Oslo',
    });
    expect(created.statusCode).toBe(201);
    const clinic = created.json();
    expect(clinic).toMatchObject({ name: 'Lakeside', timezone: 'Europe/Oslo' });

    const clinicAdmin = await bearer({ role: 'clinic_admin', clinic_id: clinic.id, sub: 'lake-admin' });
    const doctor = await call('POST', `/api/clinics/${clinic.id}/practitioners`, clinicAdmin, {
      full_name: 'Dr Lake',
      email: 'lake@x.example',
    });
    expect(doctor.statusCode).toBe(201);
    const patient = await call('POST', `/api/clinics/${clinic.id}/patients`, clinicAdmin, {
      full_name: 'Pia',
      phone: '+4712345678',
      date_of_birth: '1990-02-03',
    });
    expect(patient.json()).toMatchObject({ full_name: 'Pia', date_of_birth: '1990-02-03' });

    const start = new Date(Date.now() + 86_400_000);
    const at = (minutes: number) => new Date(start.getTime() + minutes * 60_000).toISOString();
    const slots = await call('POST', `/api/clinics/${clinic.id}/slots`, clinicAdmin, {
      slots: [
        {
          practitioner_id: doctor.json().id,
          starts_at: at(0),
          ends_at: at(30),
          price_cents: 4500,
          currency: 'NOK',
        },
        { practitioner_id: doctor.json().id, starts_at: at(30), ends_at: at(60), visit_type: 'video' },
      ],
    });
    expect(slots.statusCode).toBe(201);
    expect(slots.json().slots).toHaveLength(2);

    const single = await call('POST', `/api/clinics/${clinic.id}/slots`, clinicAdmin, {
      practitioner_id: doctor.json().id,
      starts_at: at(60),
      ends_at: at(90),
    });
    expect(single.json().slots).toHaveLength(1);

    const patientAuth = await bearer({
      role: 'patient',
      clinic_id: clinic.id,
      patient_id: patient.json().id,
    });
    const listed = await call('GET', `/api/clinics/${clinic.id}/slots?available=true`, patientAuth);
    expect(listed.json().slots.map((s: { starts_at: string }) => s.starts_at)).toEqual([
      at(0),
      at(30),
      at(60),
    ]);
    const booked = await t.app.inject({
      method: 'POST',
      url: '/api/appointments',
      headers: { ...patientAuth, 'idempotency-key': randomUUID() },
      payload: { slot_id: slots.json().slots[1].id },
    });
    expect(booked.json()).toMatchObject({ appointment: { visit_type: 'video', status: 'confirmed' } });
    const afterBooking = await call('GET', `/api/clinics/${clinic.id}/slots?available=true`, patientAuth);
    expect(afterBooking.json().slots).toHaveLength(2);
  });

  it('creates overlapping slots all-or-nothing: 409 slot_overlap, none written', async () => {
    const clinic = (
      await call('POST', '/api/clinics', admin, { name: 'Overlap', slug: `overlap-${Date.now()}` })
    ).json();
    const clinicAdmin = await bearer({ role: 'clinic_admin', clinic_id: clinic.id });
    const doctor = (
      await call('POST', `/api/clinics/${clinic.id}/practitioners`, clinicAdmin, {
        full_name: 'Dr O',
        email: 'o@x.example',
      })
    ).json();
    const base = Date.now() + 2 * 86_400_000;
    const slot = (from: number, to: number) => ({
      practitioner_id: doctor.id,
      starts_at: new Date(base + from * 60_000).toISOString(),
      ends_at: new Date(base + to * 60_000).toISOString(),
    });
    const response = await call('POST', `/api/clinics/${clinic.id}/slots`, clinicAdmin, {
      slots: [slot(0, 30), slot(60, 90), slot(80, 110)],
    });
    expect(response.statusCode).toBe(409);
    expect(response.json()).toMatchObject({ code: 'slot_overlap' });
    expect(
      await sql(db.pool, 'SELECT count(*)::int AS n FROM appointment_slots WHERE clinic_id = $1', [
        clinic.id,
      ]),
    ).toEqual([{ n: 0 }]);
    const backwards = await call('POST', `/api/clinics/${clinic.id}/slots`, clinicAdmin, slot(30, 0));
    expect(backwards.json()).toMatchObject({
      code: 'validation_error',
      detail: expect.stringContaining('ends_at must be after starts_at'),
    });
    const unknownDoctor = await call('POST', `/api/clinics/${clinic.id}/slots`, clinicAdmin, {
      ...slot(0, 30),
      practitioner_id: randomUUID(),
    });
    expect(unknownDoctor.json()).toMatchObject({ code: 'practitioner_not_found' });
  });

  it('keeps roles in their lane', async () => {
    const clinic = (
      await call('POST', '/api/clinics', admin, { name: 'Lane', slug: `lane-${Date.now()}` })
    ).json();
    const staff = await bearer({ role: 'staff', clinic_id: clinic.id });
    expect((await call('POST', '/api/clinics', staff, { name: 'X', slug: 'x-clinic' })).statusCode).toBe(403);
    expect(
      (
        await call('POST', `/api/clinics/${clinic.id}/practitioners`, staff, {
          full_name: 'Dr S',
          email: 's@x.example',
        })
      ).statusCode,
    ).toBe(403);
    const listed = await call('GET', '/api/clinics', staff);
    expect(listed.json().clinics.map((c: { id: string }) => c.id)).toEqual([clinic.id]);
    expect(
      (await call('POST', '/api/clinics', admin, { name: 'Dup', slug: clinic.slug })).json(),
    ).toMatchObject({ code: 'slug_taken' });
    expect(
      (
        await call('POST', '/api/clinics', admin, {
          name: 'TZ',
          slug: `tz-${Date.now()}`,
          timezone: 'Mars/Olympus',
        })
      ).json(),
    ).toMatchObject({
      code: 'validation_error',
    });
  });
});
