// Helpers for schedule tests: the next DST transitions of a zone (so tests stay in the future
// whatever today is), and a clinic in a given zone with the tokens to manage and book it.
import type { FastifyInstance } from 'fastify';
import { Temporal } from 'temporal-polyfill';
import type { Pool } from '../../src/db/pool.js';
import { bearer } from './app.js';
import { type ClinicFixture, createClinic } from './fixtures.js';

/** Local dates of the next spring-forward and fall-back transitions after `after` days from now. */
export function nextTransitions(zone: string, afterDays = 2): { springForward: string; fallBack: string } {
  let at = Temporal.Now.instant()
    .add({ hours: afterDays * 24 })
    .toZonedDateTimeISO(zone);
  const found: { springForward?: string; fallBack?: string } = {};
  while (!found.springForward || !found.fallBack) {
    const next = at.getTimeZoneTransition('next');
    if (!next) throw new Error(`${zone} has no transitions`);
    const before = next.subtract({ minutes: 1 }).offsetNanoseconds;
    const key = next.offsetNanoseconds > before ? 'springForward' : 'fallBack';
    found[key] ??= next.toPlainDate().toString();
    at = next;
  }
  return found as { springForward: string; fallBack: string };
}

export interface ScheduledClinic extends ClinicFixture {
  staff: Record<string, string>;
  patient: Record<string, string>;
}

export async function clinicIn(pool: Pool, timezone: string): Promise<ScheduledClinic> {
  const clinic = await createClinic(pool);
  await pool.query('UPDATE clinics SET timezone = $2 WHERE id = $1', [clinic.clinicId, timezone]);
  return {
    ...clinic,
    staff: await bearer({
      role: 'clinic_admin',
      clinic_id: clinic.clinicId,
      sub: `admin-${clinic.clinicId}`,
    }),
    patient: await bearer({
      role: 'patient',
      clinic_id: clinic.clinicId,
      patient_id: clinic.patientIds[0],
      sub: `patient-${clinic.patientIds[0]}`,
    }),
  };
}

export const schedulesUrl = (c: ClinicFixture) =>
  `/api/clinics/${c.clinicId}/practitioners/${c.practitionerId}/schedules`;

/** Creates a schedule through the clinic API as the clinic's admin (201 with the generation summary). */
export const postSchedule = (
  app: FastifyInstance,
  clinic: ScheduledClinic,
  payload: Record<string, unknown>,
) => app.inject({ method: 'POST', url: schedulesUrl(clinic), headers: clinic.staff, payload });

/** Replaces a schedule through the clinic API (a PUT regenerates and answers with the summary). */
export const putSchedule = (
  app: FastifyInstance,
  url: string,
  clinic: ScheduledClinic,
  payload: Record<string, unknown>,
) => app.inject({ method: 'PUT', url, headers: clinic.staff, payload });

/** 30-minute slots around the clock, 180 minutes' notice, 15-minute buffers, for 3 days. */
export const AROUND_THE_CLOCK_WITH_NOTICE_AND_BUFFERS = {
  valid_from: '2025-01-06',
  slot_minutes: 30,
  min_notice_minutes: 180,
  buffer_before_minutes: 15,
  buffer_after_minutes: 15,
  horizon_days: 3,
  rules: [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '00:00', end: '00:00' })),
};

/** One Saturday night, 22:00–06:00 into Sunday, 60-minute slots (the DST nights' schedule). */
export const saturdayNight = (saturday: string) => ({
  valid_from: saturday,
  valid_until: saturday,
  slot_minutes: 60,
  horizon_days: 366,
  rules: [{ weekday: 6, start: '22:00', end: '06:00' }],
});
