import type { Pool, PoolClient } from '../db/pool.js';
import { type TenantContext, withTenant } from '../db/tenant.js';
import { emptySummary, type GenerationSummary, regeneratePractitioner } from './regenerate.js';
import type { Schedule, ScheduleInput } from './schemas.js';

/** True when the id is a practitioner of the clinic (as the caller's context sees it). */
export async function isPractitioner(
  client: PoolClient,
  clinicId: string,
  practitionerId: string,
): Promise<boolean> {
  const result = await client.query(
    `SELECT 1 FROM users WHERE clinic_id = $1 AND id = $2 AND role = 'practitioner'`,
    [clinicId, practitionerId],
  );
  return result.rowCount === 1;
}

const SCHEDULE_JSON = `json_build_object(
  'id', s.id, 'clinic_id', s.clinic_id, 'practitioner_id', s.practitioner_id, 'timezone', s.timezone,
  'valid_from', s.valid_from, 'valid_until', s.valid_until, 'slot_minutes', s.slot_minutes,
  'buffer_before_minutes', s.buffer_before_minutes, 'buffer_after_minutes', s.buffer_after_minutes,
  'min_notice_minutes', s.min_notice_minutes, 'horizon_days', s.horizon_days, 'visit_type', s.visit_type,
  'price_cents', s.price_cents, 'currency', s.currency,
  'rules', coalesce((SELECT json_agg(json_build_object('id', r.id, 'weekday', r.weekday,
                       'start', to_char(r.start_time, 'HH24:MI'), 'end', to_char(r.end_time, 'HH24:MI'),
                       'every_n_weeks', r.every_n_weeks, 'visit_type', r.visit_type)
                       ORDER BY r.weekday, r.start_time, r.id)
                     FROM schedule_rules r WHERE r.clinic_id = s.clinic_id AND r.schedule_id = s.id), '[]'))`;

async function readSchedule(
  client: PoolClient,
  practitionerId: string,
  scheduleId: string,
): Promise<Schedule | null> {
  const result = await client.query<{ schedule: Schedule }>(
    `SELECT ${SCHEDULE_JSON} AS schedule FROM practitioner_schedules s WHERE s.id = $1 AND s.practitioner_id = $2`,
    [scheduleId, practitionerId],
  );
  return result.rows[0]?.schedule ?? null;
}

/** Keeps the rules an edit still has (their slots keep rule_id) and replaces the others. */
async function writeRules(
  client: PoolClient,
  clinicId: string,
  scheduleId: string,
  rules: ScheduleInput['rules'],
) {
  const values = [
    rules.map((r) => r.weekday),
    rules.map((r) => r.start),
    rules.map((r) => r.end),
    rules.map((r) => r.every_n_weeks ?? 1),
    rules.map((r) => r.visit_type ?? null),
  ];
  await client.query(
    `DELETE FROM schedule_rules r WHERE r.clinic_id = $1 AND r.schedule_id = $2
        AND NOT EXISTS (SELECT 1 FROM unnest($3::integer[], $4::time[], $5::time[], $6::integer[], $7::text[])
                                 AS v(weekday, start_time, end_time, every_n_weeks, visit_type)
                         WHERE (v.weekday, v.start_time, v.end_time, v.every_n_weeks) =
                               (r.weekday, r.start_time, r.end_time, r.every_n_weeks)
                           AND v.visit_type IS NOT DISTINCT FROM r.visit_type)`,
    [clinicId, scheduleId, ...values],
  );
  await client.query(
    `INSERT INTO schedule_rules (clinic_id, schedule_id, weekday, start_time, end_time, every_n_weeks, visit_type)
     SELECT DISTINCT $1::uuid, $2::uuid, v.* FROM unnest($3::integer[], $4::time[], $5::time[], $6::integer[], $7::text[])
                                   AS v(weekday, start_time, end_time, every_n_weeks, visit_type)
      WHERE NOT EXISTS (SELECT 1 FROM schedule_rules r WHERE r.clinic_id = $1 AND r.schedule_id = $2
                          AND (r.weekday, r.start_time, r.end_time, r.every_n_weeks) =
                              (v.weekday, v.start_time, v.end_time, v.every_n_weeks)
                          AND r.visit_type IS NOT DISTINCT FROM v.visit_type)`,
    [clinicId, scheduleId, ...values],
  );
}

function scheduleColumns(input: ScheduleInput) {
  return [
    input.timezone ?? null,
    input.valid_from,
    input.valid_until ?? null,
    input.slot_minutes,
    input.buffer_before_minutes ?? 0,
    input.buffer_after_minutes ?? 0,
    input.min_notice_minutes ?? 0,
    input.horizon_days ?? 90,
    input.visit_type ?? 'in_person',
    input.price_cents ?? null,
    input.currency ?? null,
  ];
}

export async function createSchedule(
  pool: Pool,
  context: TenantContext,
  clinicId: string,
  practitionerId: string,
  input: ScheduleInput,
): Promise<{ schedule: Schedule; generation: GenerationSummary } | null> {
  return withTenant(pool, context, async (client) => {
    if (!(await isPractitioner(client, clinicId, practitionerId))) return null;
    const inserted = await client.query<{ id: string }>(
      `INSERT INTO practitioner_schedules (clinic_id, practitioner_id, timezone, valid_from, valid_until, slot_minutes,
         buffer_before_minutes, buffer_after_minutes, min_notice_minutes, horizon_days, visit_type, price_cents, currency)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
      [clinicId, practitionerId, ...scheduleColumns(input)],
    );
    const scheduleId = inserted.rows[0]?.id as string;
    await writeRules(client, clinicId, scheduleId, input.rules);
    const generation = (await regeneratePractitioner(client, practitionerId)) ?? emptySummary();
    return { schedule: (await readSchedule(client, practitionerId, scheduleId)) as Schedule, generation };
  });
}

export async function replaceSchedule(
  pool: Pool,
  context: TenantContext,
  practitionerId: string,
  scheduleId: string,
  input: ScheduleInput,
): Promise<{ schedule: Schedule; generation: GenerationSummary } | null> {
  return withTenant(pool, context, async (client) => {
    const updated = await client.query<{ clinic_id: string }>(
      `UPDATE practitioner_schedules SET timezone = $3, valid_from = $4, valid_until = $5, slot_minutes = $6,
         buffer_before_minutes = $7, buffer_after_minutes = $8, min_notice_minutes = $9, horizon_days = $10,
         visit_type = $11, price_cents = $12, currency = $13
       WHERE id = $1 AND practitioner_id = $2 RETURNING clinic_id`,
      [scheduleId, practitionerId, ...scheduleColumns(input)],
    );
    const clinicId = updated.rows[0]?.clinic_id;
    if (!clinicId) return null;
    await writeRules(client, clinicId, scheduleId, input.rules);
    const generation = (await regeneratePractitioner(client, practitionerId)) ?? emptySummary();
    return { schedule: (await readSchedule(client, practitionerId, scheduleId)) as Schedule, generation };
  });
}

/** Deletes a schedule after regenerating without it: its free slots are withdrawn, booked ones flagged. */
export async function deleteSchedule(
  pool: Pool,
  context: TenantContext,
  practitionerId: string,
  scheduleId: string,
): Promise<GenerationSummary | null> {
  return withTenant(pool, context, async (client) => {
    const found = await client.query(
      'SELECT 1 FROM practitioner_schedules WHERE id = $1 AND practitioner_id = $2 FOR UPDATE',
      [scheduleId, practitionerId],
    );
    if (found.rowCount !== 1) return null;
    // Rules first: with none left the schedule generates nothing, so regeneration retires its slots.
    await client.query('DELETE FROM schedule_rules WHERE schedule_id = $1', [scheduleId]);
    const generation = (await regeneratePractitioner(client, practitionerId)) ?? emptySummary();
    await client.query('DELETE FROM practitioner_schedules WHERE id = $1', [scheduleId]);
    return generation;
  });
}

export async function getSchedule(
  pool: Pool,
  context: TenantContext,
  practitionerId: string,
  scheduleId: string,
) {
  return withTenant(pool, context, (client) => readSchedule(client, practitionerId, scheduleId));
}

export async function listSchedules(
  pool: Pool,
  context: TenantContext,
  practitionerId: string,
  after: string | null,
  limit: number,
): Promise<Schedule[]> {
  return withTenant(pool, context, async (client) => {
    const result = await client.query<{ schedule: Schedule }>(
      `SELECT ${SCHEDULE_JSON} AS schedule FROM practitioner_schedules s
        WHERE s.practitioner_id = $1 AND ($2::uuid IS NULL OR s.id > $2) ORDER BY s.id LIMIT $3`,
      [practitionerId, after, limit],
    );
    return result.rows.map((row) => row.schedule);
  });
}
