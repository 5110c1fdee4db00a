// Date exceptions, time off and clinic holidays, and the slots needing review. Each write
// regenerates only the local dates it touches, in the same tenant transaction as the write.
import { Temporal } from 'temporal-polyfill';
import type { Static } from 'typebox';
import type { Pool, PoolClient } from '../db/pool.js';
import { type TenantContext, withTenant } from '../db/tenant.js';
import { addSummaries, emptySummary, type GenerationSummary, regeneratePractitioner } from './regenerate.js';
import type {
  ExceptionInput,
  Holiday,
  HolidayInput,
  ReviewSlot,
  ScheduleException,
  TimeOff,
  TimeOffInput,
} from './schemas.js';
import { isPractitioner } from './service.js';
import { listScheduledPractitioners } from './store.js';

const dateRange = (from: string, to: string = from) => ({
  dates: { from: Temporal.PlainDate.from(from), to: Temporal.PlainDate.from(to) },
});

/** The local dates a time-off range touches, with the day before for overnight windows. */
function timeOffDates(startLocal: string, endLocal: string) {
  const from = Temporal.PlainDateTime.from(startLocal).toPlainDate().subtract({ days: 1 });
  return dateRange(from.toString(), Temporal.PlainDateTime.from(endLocal).toPlainDate().toString());
}

export async function addException(
  pool: Pool,
  context: TenantContext,
  clinicId: string,
  practitionerId: string,
  input: ExceptionInput,
) {
  return withTenant(pool, context, async (client) => {
    if (!(await isPractitioner(client, clinicId, practitionerId))) return null;
    const hours = 'start' in input ? input : null;
    const result = await client.query<Static<typeof ScheduleException>>(
      `INSERT INTO schedule_exceptions (clinic_id, practitioner_id, local_date, closed, start_time, end_time, reason)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       RETURNING id, practitioner_id, local_date AS date, closed, to_char(start_time, 'HH24:MI') AS start,
                 to_char(end_time, 'HH24:MI') AS "end", reason`,
      [
        clinicId,
        practitionerId,
        input.date,
        hours === null,
        hours?.start ?? null,
        hours?.end ?? null,
        input.reason ?? null,
      ],
    );
    const generation = await regeneratePractitioner(client, practitionerId, dateRange(input.date));
    return {
      exception: result.rows[0] as Static<typeof ScheduleException>,
      generation: generation ?? emptySummary(),
    };
  });
}

export async function addTimeOff(
  pool: Pool,
  context: TenantContext,
  clinicId: string,
  practitionerId: string,
  input: TimeOffInput,
) {
  return withTenant(pool, context, async (client) => {
    if (!(await isPractitioner(client, clinicId, practitionerId))) return null;
    const result = await client.query<Static<typeof TimeOff>>(
      `INSERT INTO time_off (clinic_id, practitioner_id, start_local, end_local, reason) VALUES ($1, $2, $3, $4, $5)
       RETURNING id, practitioner_id, to_char(start_local, 'YYYY-MM-DD"T"HH24:MI:SS') AS start_local,
                 to_char(end_local, 'YYYY-MM-DD"T"HH24:MI:SS') AS end_local, reason`,
      [clinicId, practitionerId, input.start_local, input.end_local, input.reason ?? null],
    );
    const generation = await regeneratePractitioner(
      client,
      practitionerId,
      timeOffDates(input.start_local, input.end_local),
    );
    return { time_off: result.rows[0] as Static<typeof TimeOff>, generation: generation ?? emptySummary() };
  });
}

export async function addHoliday(pool: Pool, context: TenantContext, clinicId: string, input: HolidayInput) {
  return withTenant(pool, context, async (client) => {
    const result = await client.query<Static<typeof Holiday>>(
      `INSERT INTO clinic_holidays (clinic_id, local_date, name) VALUES ($1, $2, $3)
       RETURNING id, local_date AS date, name`,
      [clinicId, input.date, input.name ?? null],
    );
    const generation = await regenerateClinic(client, clinicId, dateRange(input.date));
    return { holiday: result.rows[0] as Static<typeof Holiday>, generation };
  });
}

async function regenerateClinic(
  client: PoolClient,
  clinicId: string,
  options: Parameters<typeof regeneratePractitioner>[2],
): Promise<GenerationSummary> {
  let total = emptySummary();
  for (const practitionerId of await listScheduledPractitioners(client, clinicId)) {
    total = addSummaries(
      total,
      (await regeneratePractitioner(client, practitionerId, options)) ?? emptySummary(),
    );
  }
  return total;
}

/** The three kinds of dated entries, as the generic list/delete routes address them. */
export const ENTRIES = {
  exceptions: {
    table: 'schedule_exceptions',
    select: `id, practitioner_id, local_date AS date, closed, to_char(start_time, 'HH24:MI') AS start,
             to_char(end_time, 'HH24:MI') AS "end", reason`,
    dates: (row: { date: string }) => dateRange(row.date),
  },
  time_off: {
    table: 'time_off',
    select: `id, practitioner_id, to_char(start_local, 'YYYY-MM-DD"T"HH24:MI:SS') AS start_local,
             to_char(end_local, 'YYYY-MM-DD"T"HH24:MI:SS') AS end_local, reason`,
    dates: (row: { start_local: string; end_local: string }) => timeOffDates(row.start_local, row.end_local),
  },
} as const;
export type EntryKind = keyof typeof ENTRIES;

async function listEntries<T>(
  pool: Pool,
  context: TenantContext,
  kind: EntryKind,
  practitionerId: string,
  after: string | null,
  limit: number,
): Promise<T[]> {
  const entry = ENTRIES[kind];
  return withTenant(pool, context, async (client) => {
    const result = await client.query(
      `SELECT ${entry.select} FROM ${entry.table} WHERE practitioner_id = $1 AND ($2::uuid IS NULL OR id > $2)
        ORDER BY id LIMIT $3`,
      [practitionerId, after, limit],
    );
    return result.rows as T[];
  });
}

export const listExceptions = (
  pool: Pool,
  context: TenantContext,
  practitionerId: string,
  after: string | null,
  limit: number,
) => listEntries<Static<typeof ScheduleException>>(pool, context, 'exceptions', practitionerId, after, limit);

export const listTimeOff = (
  pool: Pool,
  context: TenantContext,
  practitionerId: string,
  after: string | null,
  limit: number,
) => listEntries<Static<typeof TimeOff>>(pool, context, 'time_off', practitionerId, after, limit);

export async function deleteEntry(
  pool: Pool,
  context: TenantContext,
  kind: EntryKind,
  practitionerId: string,
  id: string,
): Promise<GenerationSummary | null> {
  const entry = ENTRIES[kind];
  return withTenant(pool, context, async (client) => {
    const result = await client.query(
      `DELETE FROM ${entry.table} WHERE id = $1 AND practitioner_id = $2 RETURNING ${entry.select}`,
      [id, practitionerId],
    );
    const row = result.rows[0];
    if (!row) return null;
    return (await regeneratePractitioner(client, practitionerId, entry.dates(row))) ?? emptySummary();
  });
}

export async function listHolidays(
  pool: Pool,
  context: TenantContext,
  clinicId: string,
  after: string | null,
  limit: number,
) {
  return withTenant(pool, context, async (client) => {
    const result = await client.query<Static<typeof Holiday>>(
      `SELECT id, local_date AS date, name FROM clinic_holidays WHERE clinic_id = $1 AND ($2::uuid IS NULL OR id > $2)
        ORDER BY id LIMIT $3`,
      [clinicId, after, limit],
    );
    return result.rows;
  });
}

export async function deleteHoliday(pool: Pool, context: TenantContext, clinicId: string, id: string) {
  return withTenant(pool, context, async (client) => {
    const result = await client.query<{ date: string }>(
      'DELETE FROM clinic_holidays WHERE id = $1 AND clinic_id = $2 RETURNING local_date AS date',
      [id, clinicId],
    );
    const row = result.rows[0];
    if (!row) return null;
    return regenerateClinic(client, clinicId, dateRange(row.date));
  });
}

/** Booked slots whose schedule no longer wants them, soonest first. */
export async function listNeedsReview(
  pool: Pool,
  context: TenantContext,
  clinicId: string,
  after: string | null,
  limit: number,
) {
  return withTenant(pool, context, async (client) => {
    const result = await client.query<Static<typeof ReviewSlot>>(
      `SELECT id AS slot_id, practitioner_id, appointment_id, to_api_time(starts_at) AS starts_at,
              to_api_time(ends_at) AS ends_at
         FROM appointment_slots
        WHERE clinic_id = $1 AND status = 'needs_review' AND ends_at > now() AND ($2::uuid IS NULL OR id > $2)
        ORDER BY id LIMIT $3`,
      [clinicId, after, limit],
    );
    return result.rows;
  });
}
