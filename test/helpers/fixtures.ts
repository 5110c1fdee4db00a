// Test fixtures inserted as the connecting superuser (RLS does not apply to it): clinics with a
// practitioner, patients and slots. Each call makes new rows, so tests never share state.
import { randomUUID } from 'node:crypto';
import type { Pool } from '../../src/db/pool.js';

export interface ClinicFixture {
  clinicId: string;
  practitionerId: string;
  patientIds: string[];
}

let slotCounter = 0;

export async function createClinic(
  pool: Pool,
  options: { patients?: number; phonePrefix?: string } = {},
): Promise<ClinicFixture> {
  const clinicId = randomUUID();
  const practitionerId = randomUUID();
  await pool.query('INSERT INTO clinics (id, name, slug) VALUES ($1, $2, $3)', [
    clinicId,
    'Test Clinic',
    `test-${clinicId.slice(0, 13)}`,
  ]);
  await pool.query(
    `INSERT INTO users (id, clinic_id, role, full_name, email) VALUES ($1, $2, 'practitioner', 'Dr Test', $3)`,
    [practitionerId, clinicId, `dr-${practitionerId.slice(0, 8)}@test.example`],
  );
  const patientIds: string[] = [];
  for (let i = 0; i < (options.patients ?? 2); i++) {
    const id = randomUUID();
    const phone = options.phonePrefix ? `${options.phonePrefix}${String(i).padStart(4, '0')}` : null;
    await pool.query('INSERT INTO patients (id, clinic_id, full_name, phone) VALUES ($1, $2, $3, $4)', [
      id,
      clinicId,
      `Patient ${i}`,
      phone,
    ]);
    patientIds.push(id);
  }
  return { clinicId, practitionerId, patientIds };
}

export interface SlotOptions {
  /** Minutes from now to the start (default: a unique future time per call). */
  startsInMinutes?: number;
  lengthMinutes?: number;
  priceCents?: number | null;
  currency?: string | null;
  visitType?: 'in_person' | 'video';
}

export async function createSlot(
  pool: Pool,
  clinic: ClinicFixture,
  options: SlotOptions = {},
): Promise<string> {
  const id = randomUUID();
  slotCounter += 1;
  const starts = options.startsInMinutes ?? 24 * 60 + slotCounter * 60;
  const length = options.lengthMinutes ?? 30;
  const priced = options.priceCents !== undefined ? options.priceCents : null;
  await pool.query(
    `INSERT INTO appointment_slots (id, clinic_id, practitioner_id, starts_at, ends_at, price_cents, currency, visit_type)
     VALUES ($1, $2, $3, now() + make_interval(mins => $4), now() + make_interval(mins => $4 + $5), $6, $7, $8)`,
    [
      id,
      clinic.clinicId,
      clinic.practitionerId,
      starts,
      length,
      priced,
      priced === null ? null : (options.currency ?? 'USD'),
      options.visitType ?? 'in_person',
    ],
  );
  return id;
}
