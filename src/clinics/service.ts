// Clinic setup: clinics, practitioners, patients and slots, so the system is usable without SQL.
// Every query runs in the caller's tenant context; row-level security has the last word.
import type { Pool } from '../db/pool.js';
import { type TenantContext, withTenant } from '../db/tenant.js';
import { ProblemError } from '../http/errors.js';
import type { CreateClinic, CreatePatient, CreatePractitioner, CreateSlot, SlotQuery } from './schemas.js';

const iso = (value: Date) => value.toISOString();

export function assertTimeZone(timezone: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    throw new ProblemError(
      400,
      'validation_error',
      'The request is not valid',
      `/body/timezone: "${timezone}" is not an IANA time zone`,
    );
  }
}

export async function createClinic(pool: Pool, context: TenantContext, input: CreateClinic) {
  assertTimeZone(input.timezone);
  return withTenant(pool, context, async (client) => {
    const result = await client.query(
      'INSERT INTO clinics (name, slug, timezone) VALUES ($1, $2, $3) RETURNING id, name, slug::text, timezone',
      [input.name, input.slug, input.timezone],
    );
    return result.rows[0];
  });
}

export async function listClinics(pool: Pool, context: TenantContext) {
  return withTenant(pool, context, async (client) => {
    const result = await client.query('SELECT id, name, slug::text, timezone FROM clinics ORDER BY name, id');
    return result.rows;
  });
}

const STAFF_COLUMNS = 'id, clinic_id, role, full_name, email::text, phone';

export async function createPractitioner(
  pool: Pool,
  context: TenantContext,
  clinicId: string,
  input: CreatePractitioner,
) {
  return withTenant(pool, context, async (client) => {
    const result = await client.query(
      `INSERT INTO users (clinic_id, role, full_name, email, phone) VALUES ($1, 'practitioner', $2, $3, $4)
       RETURNING ${STAFF_COLUMNS}`,
      [clinicId, input.full_name, input.email, input.phone ?? null],
    );
    return result.rows[0];
  });
}

export async function listPractitioners(pool: Pool, context: TenantContext, clinicId: string) {
  return withTenant(pool, context, async (client) => {
    const result = await client.query(
      `SELECT ${STAFF_COLUMNS} FROM users WHERE clinic_id = $1 AND role = 'practitioner' ORDER BY full_name, id`,
      [clinicId],
    );
    return result.rows;
  });
}

const PATIENT_COLUMNS = 'id, clinic_id, full_name, email::text, phone, date_of_birth';

export async function createPatient(
  pool: Pool,
  context: TenantContext,
  clinicId: string,
  input: CreatePatient,
) {
  return withTenant(pool, context, async (client) => {
    const result = await client.query(
      `INSERT INTO patients (clinic_id, full_name, email, phone, date_of_birth) VALUES ($1, $2, $3, $4, $5)
       RETURNING ${PATIENT_COLUMNS}`,
      [clinicId, input.full_name, input.email ?? null, input.phone ?? null, input.date_of_birth ?? null],
    );
    return result.rows[0];
  });
}

export async function listPatients(pool: Pool, context: TenantContext, clinicId: string, limit = 500) {
  return withTenant(pool, context, async (client) => {
    const result = await client.query(
      `SELECT ${PATIENT_COLUMNS} FROM patients WHERE clinic_id = $1 ORDER BY full_name, id LIMIT $2`,
      [clinicId, limit],
    );
    return result.rows;
  });
}

const SLOT_COLUMNS =
  'id, clinic_id, practitioner_id, starts_at, ends_at, visit_type, price_cents, currency, status, is_available';

interface SlotRow {
  id: string;
  clinic_id: string;
  practitioner_id: string;
  starts_at: Date;
  ends_at: Date;
  visit_type: 'in_person' | 'video';
  price_cents: number | null;
  currency: string | null;
  status: 'open' | 'withdrawn';
  is_available: boolean;
}

function slotJson(row: SlotRow) {
  return { ...row, starts_at: iso(row.starts_at), ends_at: iso(row.ends_at) };
}

function checkSlot(slot: CreateSlot, index: number): void {
  const where = `/body/slots/${index}`;
  const starts = Date.parse(slot.starts_at);
  const ends = Date.parse(slot.ends_at);
  const problem = (detail: string) =>
    new ProblemError(400, 'validation_error', 'The request is not valid', `${where}: ${detail}`);
  if (!(ends > starts)) throw problem('ends_at must be after starts_at');
  if (ends - starts > 12 * 3600_000) throw problem('a slot lasts at most 12 hours');
  if ((slot.price_cents === undefined) !== (slot.currency === undefined)) {
    throw problem('give price_cents and currency together, or neither for a free slot');
  }
}

/** Creates all slots or none: an overlap with an existing slot (or each other) is 409 slot_overlap. */
export async function createSlots(pool: Pool, context: TenantContext, clinicId: string, slots: CreateSlot[]) {
  slots.forEach(checkSlot);
  return withTenant(pool, context, async (client) => {
    const practitioners = [...new Set(slots.map((slot) => slot.practitioner_id))];
    const found = await client.query<{ id: string }>(
      `SELECT id FROM users WHERE clinic_id = $1 AND role = 'practitioner' AND id = ANY($2::uuid[])`,
      [clinicId, practitioners],
    );
    const missing = practitioners.filter((id) => !found.rows.some((row) => row.id === id));
    if (missing.length > 0) {
      throw new ProblemError(
        422,
        'practitioner_not_found',
        'No such practitioner in this clinic',
        `unknown practitioner_id: ${missing.join(', ')}`,
      );
    }
    const result = await client.query<SlotRow>(
      `INSERT INTO appointment_slots (clinic_id, practitioner_id, starts_at, ends_at, visit_type, price_cents, currency)
       SELECT $1, s.practitioner_id, s.starts_at, s.ends_at, coalesce(s.visit_type, 'in_person'), s.price_cents, s.currency
         FROM jsonb_to_recordset($2::jsonb)
           AS s(practitioner_id uuid, starts_at timestamptz, ends_at timestamptz, visit_type text, price_cents integer, currency text)
       RETURNING ${SLOT_COLUMNS}`,
      [clinicId, JSON.stringify(slots)],
    );
    return result.rows.map(slotJson);
  });
}

export async function listSlots(pool: Pool, context: TenantContext, clinicId: string, query: SlotQuery) {
  return withTenant(pool, context, async (client) => {
    const result = await client.query<SlotRow>(
      `SELECT ${SLOT_COLUMNS} FROM appointment_slots
        WHERE clinic_id = $1 AND starts_at >= coalesce($2::timestamptz, now())
          AND ($3::timestamptz IS NULL OR starts_at < $3)
          AND ($4::uuid IS NULL OR practitioner_id = $4)
          AND ($5::boolean IS NOT TRUE OR (is_available AND starts_at > now()))
        ORDER BY starts_at, id
        LIMIT $6`,
      [
        clinicId,
        query.from ?? null,
        query.to ?? null,
        query.practitioner_id ?? null,
        query.available ?? null,
        query.limit,
      ],
    );
    return result.rows.map(slotJson);
  });
}
