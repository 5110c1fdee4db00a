// Clinic setup: clinics, practitioners, patients and slots, so the system is usable without SQL.
// Every query runs in the caller's tenant context; row-level security has the last word. Rows are
// selected in the API's own shapes (snake_case, times through to_api_time), typed by the schemas.
import { DomainError } from '../db/errors.js';
import { lostAnchor, type Page, pageOf } from '../db/page.js';
import type { Pool } from '../db/pool.js';
import { type TenantContext, withTenant } from '../db/tenant.js';
import {
  type Clinic,
  type CreateClinic,
  type CreatePatient,
  type CreatePractitioner,
  type CreateSlot,
  DEFAULT_TIMEZONE,
  type ListQuery,
  type Patient,
  PEOPLE_PAGE,
  SLOT_PAGE,
  type Slot,
  type SlotQuery,
  type StaffMember,
} from './schemas.js';

const HOUR_MS = 3_600_000;

export function assertTimeZone(timezone: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    throw new DomainError('validation_error', `/body/timezone: "${timezone}" is not an IANA time zone`);
  }
}

const CLINIC_COLUMNS = 'id, name, slug::text AS slug, timezone';

export async function createClinic(pool: Pool, context: TenantContext, input: CreateClinic): Promise<Clinic> {
  const timezone = input.timezone ?? DEFAULT_TIMEZONE;
  assertTimeZone(timezone);
  return withTenant(pool, context, async (client) => {
    const result = await client.query<Clinic>(
      `INSERT INTO clinics (name, slug, timezone) VALUES ($1, $2, $3) RETURNING ${CLINIC_COLUMNS}`,
      [input.name, input.slug, timezone],
    );
    return result.rows[0] as Clinic;
  });
}

export async function listClinics(
  pool: Pool,
  context: TenantContext,
  query: ListQuery,
  after: string | null,
): Promise<Page<Clinic>> {
  const limit = query.limit ?? PEOPLE_PAGE.default;
  return withTenant(pool, context, async (client) => {
    const result = await client.query<Clinic>(
      `SELECT ${CLINIC_COLUMNS} FROM clinics
        WHERE ($2::uuid IS NULL OR (name, id) > (SELECT c.name, c.id FROM clinics c WHERE c.id = $2))
        ORDER BY name, id LIMIT $1 + 1`,
      [limit, after],
    );
    await lostAnchor(client, 'SELECT 1 FROM clinics WHERE id = $1', after, result.rows.length);
    return pageOf(result.rows, limit, (clinic) => clinic.id);
  });
}

const STAFF_COLUMNS = 'id, clinic_id, role, full_name, email::text AS email, phone';
/** What a patient may see of the people of their clinic (security review L7). */
const STAFF_COLUMNS_FOR_PATIENTS = 'id, clinic_id, role, full_name';

export async function createPractitioner(
  pool: Pool,
  context: TenantContext,
  clinicId: string,
  input: CreatePractitioner,
): Promise<StaffMember> {
  return withTenant(pool, context, async (client) => {
    const result = await client.query<StaffMember>(
      `INSERT INTO users (clinic_id, role, full_name, email, phone) VALUES ($1, 'practitioner', $2, $3, $4)
       RETURNING ${STAFF_COLUMNS}`,
      [clinicId, input.full_name, input.email, input.phone ?? null],
    );
    return result.rows[0] as StaffMember;
  });
}

export async function listPractitioners(
  pool: Pool,
  context: TenantContext,
  clinicId: string,
  query: ListQuery,
  after: string | null,
): Promise<Page<StaffMember>> {
  const limit = query.limit ?? PEOPLE_PAGE.default;
  return withTenant(pool, context, async (client) => {
    const columns = context.appRole === 'patient' ? STAFF_COLUMNS_FOR_PATIENTS : STAFF_COLUMNS;
    const result = await client.query<StaffMember>(
      `SELECT ${columns} FROM users
        WHERE clinic_id = $1 AND role = 'practitioner'
          AND ($3::uuid IS NULL OR (full_name, id) > (SELECT u.full_name, u.id FROM users u WHERE u.id = $3))
        ORDER BY full_name, id LIMIT $2 + 1`,
      [clinicId, limit, after],
    );
    await lostAnchor(client, 'SELECT 1 FROM users WHERE id = $1', after, result.rows.length);
    return pageOf(result.rows, limit, (person) => person.id);
  });
}

/** Born on or after 1900-01-01 and not after today anywhere on Earth (UTC+14): L12 took 9999-12-31. */
function checkDateOfBirth(date: string): void {
  const latest = new Date(Date.now() + 14 * HOUR_MS).toISOString().slice(0, 10);
  if (date < '1900-01-01' || date > latest) {
    throw new DomainError('validation_error', '/body/date_of_birth: must be between 1900-01-01 and today');
  }
}

const PATIENT_COLUMNS = 'id, clinic_id, full_name, email::text AS email, phone, date_of_birth';

export async function createPatient(
  pool: Pool,
  context: TenantContext,
  clinicId: string,
  input: CreatePatient,
): Promise<Patient> {
  if (input.date_of_birth !== undefined) checkDateOfBirth(input.date_of_birth);
  return withTenant(pool, context, async (client) => {
    const result = await client.query<Patient>(
      `INSERT INTO patients (clinic_id, full_name, email, phone, date_of_birth) VALUES ($1, $2, $3, $4, $5)
       RETURNING ${PATIENT_COLUMNS}`,
      [clinicId, input.full_name, input.email ?? null, input.phone ?? null, input.date_of_birth ?? null],
    );
    return result.rows[0] as Patient;
  });
}

export async function listPatients(
  pool: Pool,
  context: TenantContext,
  clinicId: string,
  query: ListQuery,
  after: string | null,
): Promise<Page<Patient>> {
  const limit = query.limit ?? PEOPLE_PAGE.default;
  return withTenant(pool, context, async (client) => {
    const result = await client.query<Patient>(
      `SELECT ${PATIENT_COLUMNS} FROM patients
        WHERE clinic_id = $1
          AND ($3::uuid IS NULL OR (full_name, id) > (SELECT p.full_name, p.id FROM patients p WHERE p.id = $3))
        ORDER BY full_name, id LIMIT $2 + 1`,
      [clinicId, limit, after],
    );
    await lostAnchor(client, 'SELECT 1 FROM patients WHERE id = $1', after, result.rows.length);
    return pageOf(result.rows, limit, (patient) => patient.id);
  });
}

const SLOT_COLUMNS = `id, clinic_id, practitioner_id, to_api_time(starts_at) AS starts_at,
  to_api_time(ends_at) AS ends_at, visit_type, price_cents, currency, status, is_available`;

/**
 * Slots are made for booking: none that started more than a day ago (a past slot can never be
 * booked) and none more than two years ahead (schedules generate at most 366 days). Year 0001
 * and 9999 were accepted before (security review L12).
 */
const SLOT_WINDOW = { pastHours: 24, futureDays: 730 };

function checkSlot(slot: CreateSlot, index: number): void {
  const where = `/body/slots/${index}`;
  const starts = Date.parse(slot.starts_at);
  const ends = Date.parse(slot.ends_at);
  const invalid = (detail: string) => new DomainError('validation_error', `${where}: ${detail}`);
  const now = Date.now();
  if (
    starts < now - SLOT_WINDOW.pastHours * HOUR_MS ||
    starts > now + SLOT_WINDOW.futureDays * 24 * HOUR_MS
  ) {
    throw invalid(
      `starts_at must be between ${SLOT_WINDOW.pastHours} hours ago and ${SLOT_WINDOW.futureDays} days from now`,
    );
  }
  if (!(ends > starts)) throw invalid('ends_at must be after starts_at');
  if (ends - starts > 12 * 3600_000) throw invalid('a slot lasts at most 12 hours');
  if ((slot.price_cents === undefined) !== (slot.currency === undefined)) {
    throw invalid('give price_cents and currency together, or neither for a free slot');
  }
}

/** Creates all slots or none: an overlap with an existing slot (or each other) is 409 slot_overlap. */
export async function createSlots(
  pool: Pool,
  context: TenantContext,
  clinicId: string,
  slots: CreateSlot[],
): Promise<Slot[]> {
  slots.forEach(checkSlot);
  return withTenant(pool, context, async (client) => {
    const practitioners = [...new Set(slots.map((slot) => slot.practitioner_id))];
    const found = await client.query<{ id: string }>(
      `SELECT id FROM users WHERE clinic_id = $1 AND role = 'practitioner' AND id = ANY($2::uuid[])`,
      [clinicId, practitioners],
    );
    const missing = practitioners.filter((id) => !found.rows.some((row) => row.id === id));
    if (missing.length > 0) {
      throw new DomainError('practitioner_not_found', `unknown practitioner_id: ${missing.join(', ')}`);
    }
    const result = await client.query<Slot>(
      `INSERT INTO appointment_slots (clinic_id, practitioner_id, starts_at, ends_at, visit_type, price_cents, currency)
       SELECT $1, s.practitioner_id, s.starts_at, s.ends_at, coalesce(s.visit_type, 'in_person'), s.price_cents, s.currency
         FROM jsonb_to_recordset($2::jsonb)
           AS s(practitioner_id uuid, starts_at timestamptz, ends_at timestamptz, visit_type text, price_cents integer, currency text)
       RETURNING ${SLOT_COLUMNS}`,
      [clinicId, JSON.stringify(slots)],
    );
    return result.rows;
  });
}

export async function listSlots(
  pool: Pool,
  context: TenantContext,
  clinicId: string,
  query: SlotQuery,
  after: string | null,
): Promise<Page<Slot>> {
  const limit = query.limit ?? SLOT_PAGE.default;
  return withTenant(pool, context, async (client) => {
    const result = await client.query<Slot>(
      `SELECT ${SLOT_COLUMNS} FROM appointment_slots
        WHERE clinic_id = $1 AND starts_at >= coalesce($2::timestamptz, now())
          AND ($3::timestamptz IS NULL OR starts_at < $3)
          AND ($4::uuid IS NULL OR practitioner_id = $4)
          AND ($5::boolean IS NOT TRUE OR (is_available AND NOT slot_within_notice(appointment_slots)
                                           AND NOT slot_buffer_conflict(appointment_slots)))
          AND ($7::uuid IS NULL OR (starts_at, id) > (SELECT s.starts_at, s.id FROM appointment_slots s WHERE s.id = $7))
        ORDER BY starts_at, id
        LIMIT $6 + 1`,
      [
        clinicId,
        query.from ?? null,
        query.to ?? null,
        query.practitioner_id ?? null,
        query.available ?? null,
        limit,
        after,
      ],
    );
    await lostAnchor(client, 'SELECT 1 FROM appointment_slots WHERE id = $1', after, result.rows.length);
    return pageOf(result.rows, limit, (slot) => slot.id);
  });
}
