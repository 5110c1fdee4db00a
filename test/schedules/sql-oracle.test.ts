// An independent oracle: the pure-SQL expansion of research/scheduling.md (bench/lib/sql-expansion.sql,
// PostgreSQL's own tzdata and arithmetic) and the TypeScript regeneration must store the very same
// slots for 90 days in five zones across their DST changes.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Temporal } from 'temporal-polyfill';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withTenant } from '../../src/db/tenant.js';
import { generatorContext } from '../../src/schedules/generate-all.js';
import { regeneratePractitioner } from '../../src/schedules/regenerate.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { clinicIn } from '../helpers/schedules.js';

const ZONES = [
  'America/New_York',
  'Europe/Madrid',
  'Australia/Sydney',
  'America/Santiago',
  'Australia/Lord_Howe',
];
const NOW = '2025-03-01T00:00:00Z';

describe('TypeScript regeneration against the pure-SQL expansion', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    const expansion = await readFile(
      path.resolve(import.meta.dirname, '../../bench/lib/sql-expansion.sql'),
      'utf8',
    );
    await db.pool.query(expansion);
  });
  afterAll(() => db.drop());

  it('agrees slot for slot over 90 days in five zones, DST nights included', async () => {
    for (const zone of ZONES) {
      const clinic = await clinicIn(db.pool, zone);
      const [schedule] = await sql<{ id: string }>(
        db.pool,
        `INSERT INTO practitioner_schedules (clinic_id, practitioner_id, valid_from, slot_minutes, horizon_days)
         VALUES ($1, $2, '2025-01-06', 30, 90) RETURNING id`,
        [clinic.clinicId, clinic.practitionerId],
      );
      await sql(
        db.pool,
        `INSERT INTO schedule_rules (clinic_id, schedule_id, weekday, start_time, end_time, every_n_weeks)
         VALUES ($1, $2, 6, '22:00', '06:00', 1), ($1, $2, 7, '09:00', '12:00', 1), ($1, $2, 3, '00:00', '03:30', 2),
                ($1, $2, 1, '08:15', '17:45', 1)`,
        [clinic.clinicId, schedule?.id],
      );
      await withTenant(db.pool, generatorContext('oracle'), (client) =>
        regeneratePractitioner(client, clinic.practitionerId, { now: Temporal.Instant.from(NOW) }),
      );
    }
    const key = `practitioner_id || ' ' || local_date || ' ' || to_char(starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI') || '/' || to_char(ends_at AT TIME ZONE 'UTC', 'HH24:MI')`;
    const stored = await sql<{ k: string }>(db.pool, `SELECT ${key} AS k FROM appointment_slots ORDER BY 1`);
    const expected = await sql<{ k: string }>(
      db.pool,
      `SELECT ${key} AS k FROM bench_expand_sql($1) ORDER BY 1`,
      [NOW],
    );
    expect(stored.length).toBeGreaterThan(5 * 12 * 30);
    expect(stored.map((r) => r.k)).toEqual(expected.map((r) => r.k));
  });
});
