// A slot stored with microseconds whose end falls on the next local day: the search answered 500
// (Temporal refuses a fractional epoch millisecond on the path for times outside the listed day).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildTestApp, type TestApp, token } from '../helpers/app.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { type ClinicFixture, createClinic } from '../helpers/fixtures.js';

let db: TestDatabase;
let t: TestApp;
let clinic: ClinicFixture;
beforeAll(async () => {
  db = await createTestDatabase();
  t = await buildTestApp(db);
  clinic = await createClinic(db.pool, { patients: 1 });
});
afterAll(async () => {
  await t?.close();
  await db?.drop();
});

it('lists a slot with sub-millisecond times that ends after local midnight', async () => {
  const [slot] = await sql<{ id: string; day: string; timezone: string }>(
    db.pool,
    `INSERT INTO appointment_slots (clinic_id, practitioner_id, starts_at, ends_at, visit_type)
     SELECT c.id, $2, m - interval '15 minutes 0.7852 milliseconds', m + interval '15 minutes 0.2148 milliseconds',
            'in_person'
       FROM clinics c,
            LATERAL (SELECT (date_trunc('day', now() AT TIME ZONE c.timezone) + interval '2 days')
                              AT TIME ZONE c.timezone AS m) AS midnight
      WHERE c.id = $1
     RETURNING id, ((starts_at AT TIME ZONE (SELECT timezone FROM clinics WHERE id = $1))::date)::text AS day,
               (SELECT timezone FROM clinics WHERE id = $1) AS timezone`,
    [clinic.clinicId, clinic.practitionerId],
  );
  const staff = await token({ role: 'staff', clinic_id: clinic.clinicId });
  const response = await t.app.inject({
    method: 'GET',
    url: `/api/availability?clinic_id=${clinic.clinicId}&from=${slot!.day}&to=${slot!.day}`,
    headers: { authorization: `Bearer ${staff}` },
  });
  expect(response.statusCode, response.body).toBe(200);
  const listed = (response.json() as { days: Array<{ slots: Array<Record<string, unknown>> }> }).days
    .flatMap((day) => day.slots)
    .find((s) => s.slot_id === slot!.id);
  expect(listed?.local_start).toMatch(/T23:44:59\.000|T23:44:59[+-]/);
  expect(listed?.local_end).toMatch(/T00:15:00/);
});
