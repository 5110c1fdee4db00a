// The worker's slot roller: at start it generates what schedules want (a schedule written by SQL
// alone, or slots of an older tzdata), several rollers at once produce each slot once, and stop()
// waits for the run in progress.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { TZDATA_VERSION } from '../../src/schedules/regenerate.js';
import { startSlotRoller } from '../../src/schedules/roller.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { clinicIn } from '../helpers/schedules.js';

describe('slot roller', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  it('generates at start, once per slot however many workers roll, and restamps an old tzdata', async () => {
    const clinic = await clinicIn(db.pool, 'Europe/Madrid');
    const [schedule] = await sql<{ id: string }>(
      db.pool,
      `INSERT INTO practitioner_schedules (clinic_id, practitioner_id, valid_from, slot_minutes, horizon_days)
       VALUES ($1, $2, '2025-01-06', 60, 10) RETURNING id`,
      [clinic.clinicId, clinic.practitionerId],
    );
    await sql(
      db.pool,
      `INSERT INTO schedule_rules (clinic_id, schedule_id, weekday, start_time, end_time)
       SELECT $1, $2, d, '09:00', '12:00' FROM generate_series(1, 7) d`,
      [clinic.clinicId, schedule?.id],
    );
    const logger = createLogger('silent');
    const rollers = [1, 2, 3].map(() => startSlotRoller({ pool: db.pool, logger }));
    await Promise.all(rollers.map((roller) => roller.stop()));
    const counts = await sql<{ n: number; starts: number }>(
      db.pool,
      `SELECT count(*)::int AS n, count(DISTINCT starts_at)::int AS starts FROM appointment_slots
        WHERE practitioner_id = $1 AND status = 'open'`,
      [clinic.practitionerId],
    );
    expect(counts[0]?.n).toBeGreaterThanOrEqual(30);
    expect(counts[0]?.n).toBe(counts[0]?.starts);

    await sql(db.pool, `UPDATE appointment_slots SET tzdata_version = '2019a' WHERE practitioner_id = $1`, [
      clinic.practitionerId,
    ]);
    await startSlotRoller({ pool: db.pool, logger }).stop();
    const versions = await sql(
      db.pool,
      `SELECT DISTINCT tzdata_version FROM appointment_slots WHERE practitioner_id = $1 AND starts_at > now()`,
      [clinic.practitionerId],
    );
    expect(versions).toEqual([{ tzdata_version: TZDATA_VERSION }]);
  });
});
