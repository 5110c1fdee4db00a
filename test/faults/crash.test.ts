// Crash durability: PostgreSQL is killed (`pg_ctl stop -m immediate`, no checkpoint) in the middle
// of a booking load through a real `carebook serve`, then started again on the same port. Clients
// retry each booking with its Idempotency-Key until it is acknowledged, as the README tells them
// to. Every acknowledged booking must be in the database after recovery, none twice, nothing
// booked that nobody was told about, and the API must serve again without being restarted.
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDatabase } from '../../src/db/database.js';
import { createServiceLogin } from '../../src/db/logins.js';
import { migrateUp } from '../../src/db/migrate/runner.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { TEST_JWT_SECRET, token } from '../helpers/app.js';
import { startCli, waitForOutput } from '../helpers/cli.js';
import { FIXTURE_QUERY_TIMEOUT_MS } from '../helpers/db.js';
import { type ClinicFixture, createClinic } from '../helpers/fixtures.js';
import { type ScratchCluster, startScratchCluster } from '../helpers/scratch-cluster.js';

const CLIENTS = 8;
const SLOTS = 20_000;
const CRASH_AFTER_MS = 2_000;
const DOWN_MS = 1_000;
/** Load keeps going this long after the first booking acknowledged since the restart. */
const AFTER_RECOVERY_MS = 1_500;
/** A client gives up on one booking after this long (the test then fails: it was never acked). */
const GIVE_UP_MS = 30_000;

interface Acknowledged {
  slot: string;
  key: string;
  appointment: string;
  at: number;
}

describe('crash durability', () => {
  let cluster: ScratchCluster;
  let pool: Pool;
  let serve: ChildProcessWithoutNullStreams;
  let api: string;
  let clinic: ClinicFixture;

  beforeAll(async () => {
    cluster = await startScratchCluster();
    await ensureDatabase(cluster.adminUrl, 'carebook');
    const ownerUrl = cluster.urlFor('carebook');
    await migrateUp({ databaseUrl: ownerUrl });
    const login = await createServiceLogin(ownerUrl, 'carebook_crash_login');
    pool = createPool(ownerUrl, { max: 4, queryTimeoutMs: FIXTURE_QUERY_TIMEOUT_MS });
    clinic = await createClinic(pool, { patients: CLIENTS });
    serve = startCli(['serve'], {
      DATABASE_URL: login.url,
      PORT: '0',
      LOG_LEVEL: 'info',
      CAREBOOK_JWT_SECRET: TEST_JWT_SECRET,
      CAREBOOK_RATE_LIMIT_BOOKINGS: '0',
    });
    api = (await waitForOutput(serve, /Server listening at (http:\/\/127\.0\.0\.1:\d+)/))[1] as string;
  });
  afterAll(async () => {
    if (serve && serve.exitCode === null) {
      await new Promise((resolve) => {
        serve.once('exit', resolve);
        serve.kill('SIGTERM');
      });
    }
    await pool?.end().catch(() => {});
    await cluster?.remove();
  });

  it('keeps every acknowledged booking, none twice, and serves again by itself', async () => {
    const staff = await token({ sub: 'crash-staff', role: 'staff', clinic_id: clinic.clinicId }, '2h');
    const acknowledged: Acknowledged[] = [];
    const unexpected: string[] = [];
    const outcomes = { retriedAfterError: 0, replayed: 0 };
    let stopping = false;
    let crashedAt = 0;
    let restartedAt = 0;

    /** One booking, retried with the same key until the API acknowledges it. */
    const bookUntilAcknowledged = async (client: number, slot: string) => {
      const key = randomUUID();
      const started = Date.now();
      let attempts = 0;
      while (Date.now() - started < GIVE_UP_MS) {
        attempts += 1;
        try {
          const response = await fetch(`${api}/api/appointments`, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${staff}`,
              'content-type': 'application/json',
              'idempotency-key': key,
            },
            body: JSON.stringify({ slot_id: slot, patient_id: clinic.patientIds[client] }),
            signal: AbortSignal.timeout(15_000),
          });
          const body = (await response.json()) as { appointment?: { id: string }; code?: string };
          if (response.status === 201 && body.appointment) {
            if (attempts > 1) outcomes.retriedAfterError += 1;
            if (response.headers.get('idempotent-replayed') === 'true') outcomes.replayed += 1;
            acknowledged.push({ slot, key, appointment: body.appointment.id, at: Date.now() });
            return;
          }
          // 503 database_unavailable is the answer while the database is down: retry.
          if (response.status !== 503) unexpected.push(`${response.status} ${body.code ?? ''}`);
        } catch {
          // The connection to the API failed or timed out: retry with the same key.
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      unexpected.push(`slot ${slot} never acknowledged in ${GIVE_UP_MS} ms`);
    };
    // Made before the load, so that every client is inside a booking when the crash comes.
    const slots = (
      await pool.query<{ id: string }>(
        `INSERT INTO appointment_slots (clinic_id, practitioner_id, starts_at, ends_at)
         SELECT $1, $2, now() + interval '2 days' + n * interval '10 minutes',
                now() + interval '2 days' + (n + 1) * interval '10 minutes'
           FROM generate_series(0, $3 - 1) AS n RETURNING id`,
        [clinic.clinicId, clinic.practitionerId, SLOTS],
      )
    ).rows.map((row) => row.id);
    const clientLoop = async (client: number) => {
      while (!stopping) {
        const slot = slots.pop();
        if (!slot) {
          unexpected.push(`all ${SLOTS} slots booked: make more`);
          return;
        }
        await bookUntilAcknowledged(client, slot);
      }
    };

    const loops = Array.from({ length: CLIENTS }, (_, client) => clientLoop(client));
    await new Promise((resolve) => setTimeout(resolve, CRASH_AFTER_MS));
    const beforeCrash = acknowledged.length;
    crashedAt = Date.now();
    await cluster.crash();
    await new Promise((resolve) => setTimeout(resolve, DOWN_MS));
    await cluster.restart();
    restartedAt = Date.now();
    await expect
      .poll(() => acknowledged.some((booking) => booking.at > restartedAt), { timeout: 30_000 })
      .toBe(true);
    const firstAfter = Math.min(...acknowledged.filter((b) => b.at > restartedAt).map((b) => b.at));
    await new Promise((resolve) => setTimeout(resolve, AFTER_RECOVERY_MS));
    stopping = true;
    await Promise.all(loops);

    const stored = await pool.query<{ id: string; slot_id: string; n: number }>(
      `SELECT a.id, a.slot_id, count(*) OVER (PARTITION BY a.slot_id)::int AS n
         FROM appointments a WHERE a.clinic_id = $1`,
      [clinic.clinicId],
    );
    const requests = await pool.query<{ idempotency_key: string }>(
      'SELECT idempotency_key FROM booking_requests WHERE clinic_id = $1',
      [clinic.clinicId],
    );
    const storedIds = new Set(stored.rows.map((row) => row.id));
    const lost = acknowledged.filter((booking) => !storedIds.has(booking.appointment));
    const acknowledgedIds = new Set(acknowledged.map((booking) => booking.appointment));
    const unacknowledged = stored.rows.filter((row) => !acknowledgedIds.has(row.id));
    const health = await fetch(`${api}/readyz`);

    console.log(
      `crash durability: ${acknowledged.length} bookings acknowledged (${beforeCrash} before the crash, ` +
        `${outcomes.retriedAfterError} after retries, ${outcomes.replayed} of them replays of a booking the crash hid), ` +
        `${stored.rows.length} in the database; database down ${((restartedAt - crashedAt) / 1000).toFixed(1)} s, ` +
        `first booking acknowledged ${((firstAfter - crashedAt) / 1000).toFixed(1)} s after the crash ` +
        `(${((firstAfter - restartedAt) / 1000).toFixed(1)} s after the restart)`,
    );
    expect(unexpected).toEqual([]);
    expect(beforeCrash).toBeGreaterThan(0);
    expect(outcomes.retriedAfterError).toBeGreaterThan(0); // the crash hit bookings in flight
    expect(lost).toEqual([]);
    expect(unacknowledged).toEqual([]);
    expect(stored.rows.filter((row) => row.n > 1)).toEqual([]);
    expect(stored.rows.length).toBe(acknowledged.length);
    expect(new Set(acknowledged.map((booking) => booking.slot)).size).toBe(acknowledged.length);
    expect(requests.rows.length).toBe(acknowledged.length);
    expect(serve.exitCode).toBeNull();
    expect(health.status).toBe(200);
  });
});
