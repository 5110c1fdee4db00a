// Rescheduling into a slot obeys the rules booking obeys: a slot inside its minimum notice, or one
// whose buffers reach another booking of the practitioner, is refused with the same problem code
// as a booking of it would be. The appointment's own old slot is no neighbour: it is freed in the
// same transaction, so moving to the next slot is allowed.
import { randomUUID } from 'node:crypto';
import { Temporal } from 'temporal-polyfill';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import {
  AROUND_THE_CLOCK_WITH_NOTICE_AND_BUFFERS,
  clinicIn,
  postSchedule,
  type ScheduledClinic,
} from '../helpers/schedules.js';

describe('reschedule applies minimum notice and buffers as booking does', () => {
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

  /** A UTC clinic with 30-minute slots around the clock, 180 minutes' notice, 15-minute buffers. */
  async function scheduledClinic(): Promise<{ clinic: ScheduledClinic; slots: string[] }> {
    const clinic = await clinicIn(db.pool, 'UTC');
    const created = await postSchedule(t.app, clinic, AROUND_THE_CLOCK_WITH_NOTICE_AND_BUFFERS);
    expect(created.statusCode, created.body).toBe(201);
    const { rows } = await db.pool.query<{ id: string }>(
      `SELECT id FROM appointment_slots WHERE practitioner_id = $1 AND starts_at > now() AND is_available
        ORDER BY starts_at`,
      [clinic.practitionerId],
    );
    return { clinic, slots: rows.map((row) => row.id) };
  }

  const book = async (clinic: ScheduledClinic, patient: number, slotId: string) => {
    const headers = await bearer({
      role: 'patient',
      clinic_id: clinic.clinicId,
      patient_id: clinic.patientIds[patient],
      sub: `patient-${clinic.patientIds[patient]}`,
    });
    const booked = await t.app.inject({
      method: 'POST',
      url: '/api/appointments',
      headers: { ...headers, 'idempotency-key': randomUUID() },
      payload: { slot_id: slotId },
    });
    expect(booked.statusCode, booked.body).toBe(201);
    return booked.json().appointment.id as string;
  };
  const reschedule = (clinic: ScheduledClinic, appointmentId: string, slotId: string) =>
    t.app.inject({
      method: 'POST',
      url: `/api/appointments/${appointmentId}/reschedule`,
      headers: { ...clinic.patient, 'idempotency-key': randomUUID() },
      payload: { new_slot_id: slotId },
    });
  const slotOf = async (appointmentId: string) =>
    (
      await db.pool.query<{ slot_id: string }>('SELECT slot_id FROM appointments WHERE id = $1', [
        appointmentId,
      ])
    ).rows[0]?.slot_id;

  it('refuses a slot inside the minimum notice with slot_within_notice', async () => {
    const { clinic, slots } = await scheduledClinic();
    const appointment = await book(clinic, 0, slots[20] as string);
    // The first future slots start within 180 minutes: search does not list them, booking refuses them.
    const soon = await reschedule(clinic, appointment, slots[0] as string);
    expect(soon.statusCode, soon.body).toBe(409);
    expect(soon.json().code).toBe('slot_within_notice');
    expect(await slotOf(appointment)).toBe(slots[20]);
    const later = Temporal.Now.instant().add({ minutes: 180 });
    const { rows } = await db.pool.query<{ appointment_id: string | null }>(
      'SELECT appointment_id FROM appointment_slots WHERE id = $1 AND starts_at <= $2',
      [slots[0], new Date(later.epochMilliseconds)],
    );
    expect(rows).toEqual([{ appointment_id: null }]);
  });

  it("refuses a slot whose buffers reach another booking with slot_buffer_conflict, not the appointment's own", async () => {
    const { clinic, slots } = await scheduledClinic();
    const mine = await book(clinic, 0, slots[20] as string);
    await book(clinic, 1, slots[40] as string);

    const close = await reschedule(clinic, mine, slots[41] as string);
    expect(close.statusCode, close.body).toBe(409);
    expect(close.json().code).toBe('slot_buffer_conflict');
    expect(await slotOf(mine)).toBe(slots[20]);

    // Next to its own old slot: that one is freed by the move, so nothing is in the buffers.
    const next = await reschedule(clinic, mine, slots[21] as string);
    expect(next.statusCode, next.body).toBe(200);
    expect(await slotOf(mine)).toBe(slots[21]);
  });
});
