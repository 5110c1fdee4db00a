// The clinic API around schedules: who may use it, what an exception, time off or holiday does to
// the dates it touches, and the audit trail a schedule edit and its generation leave.
import { randomUUID } from 'node:crypto';
import { Temporal } from 'temporal-polyfill';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { clinicIn, postSchedule, schedulesUrl } from '../helpers/schedules.js';

describe('schedule API', () => {
  let db: TestDatabase;
  let t: TestApp;
  beforeAll(async () => {
    db = await createTestDatabase();
    t = await buildTestApp(db);
  });
  afterAll(async () => {
    await t.close();
    await db.drop();
  });

  it('regenerates only the dates an exception, time off or holiday touches', async () => {
    const clinic = await clinicIn(db.pool, 'Europe/Berlin');
    await postSchedule(t.app, clinic, {
      valid_from: '2025-01-06',
      slot_minutes: 60,
      horizon_days: 20,
      rules: [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '09:00', end: '12:00' })),
    });
    const today = Temporal.Now.plainDateISO('Europe/Berlin');
    const day = (n: number) => today.add({ days: n }).toString();
    const base = `/api/clinics/${clinic.clinicId}/practitioners/${clinic.practitionerId}`;
    const post = (url: string, payload: object) =>
      t.app.inject({ method: 'POST', url, headers: clinic.staff, payload });

    const closed = await post(`${base}/exceptions`, { date: day(5), closed: true });
    expect(closed.statusCode, closed.body).toBe(201);
    expect(closed.json().generation).toEqual({ created: 0, unchanged: 0, withdrawn: 3, needs_review: 0 });
    const custom = await post(`${base}/exceptions`, { date: day(6), start: '14:00', end: '16:00' });
    expect(custom.json().generation).toEqual({ created: 2, unchanged: 0, withdrawn: 3, needs_review: 0 });
    const away = await post(`${base}/time-off`, {
      start_local: `${day(7)}T10:00`,
      end_local: `${day(7)}T11:00`,
    });
    expect(away.json().generation).toMatchObject({ withdrawn: 1, created: 0 });
    const holiday = await post(`/api/clinics/${clinic.clinicId}/holidays`, {
      date: day(8),
      name: 'Feiertag',
    });
    expect(holiday.json().generation).toEqual({ created: 0, unchanged: 0, withdrawn: 3, needs_review: 0 });

    const removed = await t.app.inject({
      method: 'DELETE',
      url: `/api/clinics/${clinic.clinicId}/holidays/${holiday.json().holiday.id}`,
      headers: clinic.staff,
    });
    expect(removed.json().generation).toEqual({ created: 3, unchanged: 0, withdrawn: 0, needs_review: 0 });
    const listed = await t.app.inject({ method: 'GET', url: `${base}/exceptions`, headers: clinic.staff });
    expect(listed.json()).toMatchObject({ has_more: false, next_cursor: null });
    expect(
      listed
        .json()
        .exceptions.map((e: { date: string }) => e.date)
        .sort(),
    ).toEqual([day(5), day(6)]);
  });

  it('lets staff of the clinic and platform admins manage schedules, nobody else', async () => {
    const clinic = await clinicIn(db.pool, 'Europe/Madrid');
    const payload = {
      valid_from: '2025-01-06',
      slot_minutes: 60,
      horizon_days: 3,
      rules: [{ weekday: 1, start: '09:00', end: '10:00' }],
    };
    const as = async (claims: Parameters<typeof bearer>[0]) =>
      (
        await t.app.inject({
          method: 'POST',
          url: schedulesUrl(clinic),
          headers: await bearer(claims),
          payload,
        })
      ).statusCode;
    expect(await as({ role: 'platform_admin', sub: 'ops' })).toBe(201);
    expect(await as({ role: 'staff', clinic_id: clinic.clinicId })).toBe(201);
    expect(await as({ role: 'patient', clinic_id: clinic.clinicId, patient_id: clinic.patientIds[0] })).toBe(
      403,
    );
    expect(await as({ role: 'clinic_admin', clinic_id: randomUUID() })).toBe(403);
    const bad = await postSchedule(t.app, clinic, { ...payload, timezone: 'Mars/Olympus_Mons' });
    expect(bad.statusCode).toBe(400);
    const backwards = await postSchedule(t.app, clinic, { ...payload, valid_until: '2024-01-01' });
    expect(backwards.json()).toMatchObject({ status: 400, code: 'validation_error' });
    const nobody = await t.app.inject({
      method: 'POST',
      url: `/api/clinics/${clinic.clinicId}/practitioners/${randomUUID()}/schedules`,
      headers: clinic.staff,
      payload,
    });
    expect(nobody.statusCode).toBe(404);
  });

  it('audits the schedule edit row by row and a generation once per practitioner', async () => {
    const clinic = await clinicIn(db.pool, 'Europe/Madrid');
    const created = await postSchedule(t.app, clinic, {
      valid_from: '2025-01-06',
      slot_minutes: 60,
      horizon_days: 7,
      rules: [{ weekday: 3, start: '09:00', end: '11:00' }],
    });
    const { generation, schedule } = created.json();
    const trail = await sql<{
      action: string;
      table_name: string;
      actor: string;
      details: { created?: number } | null;
    }>(
      db.pool,
      `SELECT action, table_name, actor, details FROM audit.audit_log WHERE clinic_id = $1 ORDER BY id`,
      [clinic.clinicId],
    );
    const actor = `admin-${clinic.clinicId}`;
    expect(trail.filter((r) => r.table_name === 'practitioner_schedules')).toEqual([
      { action: 'insert', table_name: 'practitioner_schedules', actor, details: null },
    ]);
    expect(trail.filter((r) => r.table_name === 'schedule_rules')).toHaveLength(1);
    expect(trail.filter((r) => r.table_name === 'appointment_slots')).toEqual([
      {
        action: 'slots.generate',
        table_name: 'appointment_slots',
        actor,
        details: expect.objectContaining({ created: generation.created }),
      },
    ]);
    await t.app.inject({
      method: 'DELETE',
      url: `${schedulesUrl(clinic)}/${schedule.id}`,
      headers: clinic.staff,
    });
    const withdrawals = await sql(
      db.pool,
      `SELECT count(*)::int AS n FROM audit.audit_log WHERE clinic_id = $1 AND table_name = 'appointment_slots'
          AND action = 'update' AND old_values ->> 'status' = 'open' AND new_values ->> 'status' = 'withdrawn'`,
      [clinic.clinicId],
    );
    expect(withdrawals).toEqual([{ n: generation.created }]);
  });
});
