// The SQL of slot generation, one named function each, every value a bound parameter. They run on
// a client inside a tenant transaction (withTenant), so row-level security decides what they see.
import type { PoolClient } from '../db/pool.js';
import type { PractitionerCalendar, ScheduleSpec } from './expand.js';

/** A schedule as generation needs it: the expansion inputs plus what each slot row copies. */
export interface StoredSchedule extends ScheduleSpec {
  priceCents: number | null;
  currency: string | null;
  minNoticeMinutes: number;
  bufferBeforeMinutes: number;
  bufferAfterMinutes: number;
}

export interface StoredCalendar extends PractitionerCalendar {
  clinicId: string;
  schedules: StoredSchedule[];
}

/** Serialises generation and booking of one practitioner (book_appointment takes the same lock). */
export async function lockPractitioner(client: PoolClient, practitionerId: string): Promise<void> {
  await client.query(`SELECT pg_advisory_xact_lock(hashtextextended('carebook:practitioner:' || $1, 0))`, [
    practitionerId,
  ]);
}

/** Everything that decides a practitioner's slots, in one round trip; null for no such practitioner. */
export async function loadCalendar(
  client: PoolClient,
  practitionerId: string,
): Promise<StoredCalendar | null> {
  const result = await client.query<{ calendar: StoredCalendar }>(
    `SELECT json_build_object(
       'clinicId', u.clinic_id,
       'schedules', coalesce((
         SELECT json_agg(json_build_object(
           'id', s.id, 'timezone', coalesce(s.timezone, c.timezone), 'validFrom', s.valid_from,
           'validUntil', s.valid_until, 'slotMinutes', s.slot_minutes, 'horizonDays', s.horizon_days,
           'visitType', s.visit_type, 'priceCents', s.price_cents, 'currency', s.currency,
           'minNoticeMinutes', s.min_notice_minutes, 'bufferBeforeMinutes', s.buffer_before_minutes,
           'bufferAfterMinutes', s.buffer_after_minutes,
           'rules', coalesce((
             SELECT json_agg(json_build_object(
               'id', r.id, 'weekday', r.weekday, 'start', r.start_time, 'end', r.end_time,
               'everyNWeeks', r.every_n_weeks, 'visitType', r.visit_type) ORDER BY r.weekday, r.start_time, r.id)
             FROM schedule_rules r WHERE r.clinic_id = s.clinic_id AND r.schedule_id = s.id), '[]'))
           ORDER BY s.valid_from, s.id)
         FROM practitioner_schedules s WHERE s.clinic_id = u.clinic_id AND s.practitioner_id = u.id), '[]'),
       'exceptions', coalesce((
         SELECT json_agg(json_build_object('date', e.local_date, 'closed', e.closed, 'start', e.start_time,
                                           'end', e.end_time))
         FROM schedule_exceptions e WHERE e.clinic_id = u.clinic_id AND e.practitioner_id = u.id), '[]'),
       'timeOff', coalesce((
         SELECT json_agg(json_build_object('startLocal', t.start_local, 'endLocal', t.end_local))
         FROM time_off t WHERE t.clinic_id = u.clinic_id AND t.practitioner_id = u.id), '[]'),
       'holidays', coalesce((
         SELECT json_agg(h.local_date) FROM clinic_holidays h WHERE h.clinic_id = u.clinic_id), '[]')
     ) AS calendar
     FROM users u JOIN clinics c ON c.id = u.clinic_id
     WHERE u.id = $1 AND u.role = 'practitioner'`,
    [practitionerId],
  );
  return result.rows[0]?.calendar ?? null;
}

/** A stored slot as the diff compares it; times in epoch milliseconds. */
export interface ExistingSlot {
  id: string;
  startsAt: number;
  endsAt: number;
  status: 'open' | 'withdrawn' | 'needs_review';
  booked: boolean;
  generated: boolean;
  scheduleId: string | null;
  ruleId: string | null;
  localDate: string | null;
  visitType: string;
  priceCents: number | null;
  currency: string | null;
  tzdataVersion: string | null;
  minNoticeMinutes: number;
  bufferBeforeMinutes: number;
  bufferAfterMinutes: number;
}

/**
 * The practitioner's slots that start after `after`, except hand-made ones that are withdrawn.
 * (date_part, not extract: extract's numeric arithmetic made this query twice as slow.)
 */
export async function loadFutureSlots(
  client: PoolClient,
  practitionerId: string,
  after: Date,
): Promise<ExistingSlot[]> {
  const result = await client.query<ExistingSlot>(
    `SELECT id, date_part('epoch', starts_at) * 1000 AS "startsAt", date_part('epoch', ends_at) * 1000 AS "endsAt", status,
            appointment_id IS NOT NULL AS booked, schedule_id IS NOT NULL AS generated,
            schedule_id AS "scheduleId", rule_id AS "ruleId", local_date AS "localDate",
            visit_type AS "visitType", price_cents AS "priceCents", currency, tzdata_version AS "tzdataVersion",
            min_notice_minutes AS "minNoticeMinutes", buffer_before_minutes AS "bufferBeforeMinutes",
            buffer_after_minutes AS "bufferAfterMinutes"
       FROM appointment_slots
      WHERE practitioner_id = $1 AND starts_at > $2
        AND (schedule_id IS NOT NULL OR status <> 'withdrawn' OR appointment_id IS NOT NULL)
      ORDER BY starts_at`,
    [practitionerId, after],
  );
  return result.rows;
}

/** A slot row to write: every column generation owns. */
export interface SlotValues {
  startsAt: number;
  endsAt: number;
  visitType: string;
  priceCents: number | null;
  currency: string | null;
  scheduleId: string;
  ruleId: string | null;
  localDate: string;
  tzdataVersion: string;
  minNoticeMinutes: number;
  bufferBeforeMinutes: number;
  bufferAfterMinutes: number;
}

function columns(rows: SlotValues[]) {
  const iso = (ms: number) => new Date(ms).toISOString();
  return [
    rows.map((r) => iso(r.startsAt)),
    rows.map((r) => iso(r.endsAt)),
    rows.map((r) => r.visitType),
    rows.map((r) => r.priceCents),
    rows.map((r) => r.currency),
    rows.map((r) => r.scheduleId),
    rows.map((r) => r.ruleId),
    rows.map((r) => r.localDate),
    rows.map((r) => r.tzdataVersion),
    rows.map((r) => r.minNoticeMinutes),
    rows.map((r) => r.bufferBeforeMinutes),
    rows.map((r) => r.bufferAfterMinutes),
  ];
}

const VALUE_COLUMNS = `starts_at, ends_at, visit_type, price_cents, currency, schedule_id, rule_id, local_date,
                       tzdata_version, min_notice_minutes, buffer_before_minutes, buffer_after_minutes`;
const VALUE_ARRAYS = `$3::timestamptz[], $4::timestamptz[], $5::text[], $6::integer[], $7::text[], $8::uuid[],
                      $9::uuid[], $10::date[], $11::text[], $12::integer[], $13::integer[], $14::integer[]`;

export async function insertSlots(
  client: PoolClient,
  clinicId: string,
  practitionerId: string,
  rows: SlotValues[],
): Promise<number> {
  if (rows.length === 0) return 0;
  const result = await client.query(
    `INSERT INTO appointment_slots (clinic_id, practitioner_id, starts_at, ends_at, visit_type, price_cents, currency,
                                    schedule_id, rule_id, local_date, tzdata_version, min_notice_minutes,
                                    buffer_before_minutes, buffer_after_minutes)
     SELECT $1, $2, v.* FROM unnest(${VALUE_ARRAYS}) AS v(${VALUE_COLUMNS})`,
    [clinicId, practitionerId, ...columns(rows)],
  );
  return result.rowCount ?? 0;
}

/** Rewrites existing rows (by id) to the given values and opens them; starts_at never changes. */
export async function updateSlots(
  client: PoolClient,
  practitionerId: string,
  rows: Array<SlotValues & { id: string }>,
): Promise<number> {
  if (rows.length === 0) return 0;
  const result = await client.query(
    `UPDATE appointment_slots s
        SET ends_at = v.ends_at, visit_type = v.visit_type, price_cents = v.price_cents, currency = v.currency,
            schedule_id = v.schedule_id, rule_id = v.rule_id, local_date = v.local_date,
            tzdata_version = v.tzdata_version, min_notice_minutes = v.min_notice_minutes,
            buffer_before_minutes = v.buffer_before_minutes, buffer_after_minutes = v.buffer_after_minutes,
            status = 'open', is_available = (s.appointment_id IS NULL)
       FROM unnest($2::uuid[], ${VALUE_ARRAYS}) AS v(id, ${VALUE_COLUMNS})
      WHERE s.id = v.id AND s.practitioner_id = $1 AND s.starts_at = v.starts_at
        AND (s.appointment_id IS NULL OR s.ends_at = v.ends_at)`,
    [practitionerId, rows.map((r) => r.id), ...columns(rows)],
  );
  return result.rowCount ?? 0;
}

/**
 * Takes slots off the schedule: withdrawn when free, needs_review when booked (decided on the row
 * as it is now, so an appointment made or cancelled meanwhile is judged correctly).
 */
export async function retireSlots(
  client: PoolClient,
  practitionerId: string,
  ids: string[],
): Promise<{ withdrawn: number; needsReview: number }> {
  if (ids.length === 0) return { withdrawn: 0, needsReview: 0 };
  const result = await client.query<{ status: string }>(
    `UPDATE appointment_slots
        SET status = CASE WHEN appointment_id IS NULL THEN 'withdrawn' ELSE 'needs_review' END, is_available = false
      WHERE id = ANY($2::uuid[]) AND practitioner_id = $1
      RETURNING status`,
    [practitionerId, ids],
  );
  const withdrawn = result.rows.filter((row) => row.status === 'withdrawn').length;
  return { withdrawn, needsReview: result.rows.length - withdrawn };
}

/** Practitioners with at least one schedule, optionally of one clinic, in a stable order. */
export async function listScheduledPractitioners(
  client: PoolClient,
  clinicId: string | null,
): Promise<string[]> {
  const result = await client.query<{ practitioner_id: string }>(
    `SELECT DISTINCT practitioner_id FROM practitioner_schedules
      WHERE $1::uuid IS NULL OR clinic_id = $1 ORDER BY practitioner_id`,
    [clinicId],
  );
  return result.rows.map((row) => row.practitioner_id);
}
