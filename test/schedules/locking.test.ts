// Regeneration's advisory lock is transaction-level (a session lock would outlive the transaction
// on a pooled connection) and serialises with booking: a booking of the practitioner waits for
// the regeneration to commit, and nothing is left locked afterwards.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contextSelect } from '../../src/db/tenant.js';
import { generatorContext } from '../../src/schedules/generate-all.js';
import { regeneratePractitioner } from '../../src/schedules/regenerate.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { clinicIn, postSchedule } from '../helpers/schedules.js';

describe('regeneration lock', () => {
  let db: TestDatabase;
  let t: TestApp;
  beforeAll(async () => {
    db = await createTestDatabase();
    t = await buildTestApp(db);
  });
  afterAll(async () => {
    await t.close();
    await db.drop();
  });

  it('makes a booking of the practitioner wait until it commits, and holds nothing after', async () => {
    const clinic = await clinicIn(db.pool, 'Europe/Madrid');
    await postSchedule(t.app, clinic, {
      valid_from: '2025-01-06',
      slot_minutes: 60,
      horizon_days: 5,
      rules: [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '09:00', end: '12:00' })),
    });
    const [slot] = await sql<{ id: string }>(
      db.pool,
      `SELECT id FROM appointment_slots WHERE practitioner_id = $1 AND status = 'open' ORDER BY starts_at DESC LIMIT 1`,
      [clinic.practitionerId],
    );

    const regenerating = await db.pool.connect();
    try {
      const [{ pid }] = (await regenerating.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'))
        .rows as [{ pid: number }];
      await regenerating.query('BEGIN');
      const enter = contextSelect(generatorContext('lock-test'));
      await regenerating.query(`SELECT * FROM ${enter.sql}`, enter.values);
      await regeneratePractitioner(regenerating, clinic.practitionerId);

      const booking = t.app.inject({
        method: 'POST',
        url: '/api/appointments',
        headers: { ...clinic.patient, 'idempotency-key': randomUUID() },
        payload: { slot_id: slot?.id },
      });
      let waiter: number | undefined;
      for (let attempt = 0; attempt < 500 && waiter === undefined; attempt++) {
        const rows = await sql<{ pid: number }>(
          db.pool,
          `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND pid <> $1`,
          [pid],
        );
        waiter = rows[0]?.pid;
        if (waiter === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(waiter).toBeDefined();
      expect(
        await sql(
          db.pool,
          'SELECT pg_isolation_test_session_is_blocked($1, ARRAY[$2]::integer[]) AS blocked',
          [waiter, pid],
        ),
      ).toEqual([{ blocked: true }]);

      await regenerating.query('COMMIT');
      expect((await booking).statusCode).toBe(201);
      const held = await regenerating.query(
        `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = $1`,
        [pid],
      );
      expect(held.rows).toEqual([{ n: 0 }]);
    } finally {
      regenerating.release();
    }
  });
});
