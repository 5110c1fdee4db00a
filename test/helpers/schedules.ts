// Helpers for schedule tests: the next DST transitions of a zone (so tests stay in the future
// whatever today is), and a clinic in a given zone with the tokens to manage and book it.
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
