// A worker process killed with SIGKILL in the middle of 1,000 events, then started again: every
// event ends success and every business effect (payment succeeded, appointment confirmed) is
// applied exactly once — the interrupted batch rolled back as a whole, its record stayed behind,
// and the next claim counted the attempt of each of its events and retried them one by one.
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { startCli } from '../helpers/cli.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { createClinic } from '../helpers/fixtures.js';
import { paymentIntent, sendStripe, stripeEvent, WEBHOOK_ENV } from '../helpers/webhooks.js';

const EVENTS = 1000;

describe('worker killed mid-batch', () => {
  let db: TestDatabase;
  let t: TestApp;
  beforeAll(async () => {
    db = await createTestDatabase();
    t = await buildTestApp(db, WEBHOOK_ENV);
  });
  // Every child is killed at the end, also when the test fails before it would have.
  const children: ChildProcess[] = [];
  afterAll(async () => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await t.close();
    await db.drop();
  });

  const count = async (where: string) =>
    (await sql<{ n: number }>(db.pool, `SELECT count(*)::int AS n FROM webhook_events WHERE ${where}`))[0]
      ?.n ?? 0;

  it(`recovers all ${EVENTS} events with each effect applied once`, async () => {
    // 1,000 held bookings (one patient, back-to-back slots), booked through the real procedure.
    const clinic = await createClinic(db.pool, { patients: 1 });
    await db.pool.query(
      `INSERT INTO appointment_slots (clinic_id, practitioner_id, starts_at, ends_at, price_cents, currency)
       SELECT $1, $2, now() + interval '2 days' + n * interval '30 minutes', now() + interval '2 days' + (n + 1) * interval '30 minutes', 2000, 'USD'
         FROM generate_series(1, $3) n`,
      [clinic.clinicId, clinic.practitionerId, EVENTS],
    );
    await db.pool.query(
      `DO $$
       DECLARE v_slot uuid;
       BEGIN
         PERFORM set_config('role', 'carebook_app', true), set_config('carebook.clinic_id', '${clinic.clinicId}', true),
                 set_config('carebook.role', 'staff', true), set_config('carebook.user_id', 'loader', true);
         FOR v_slot IN SELECT id FROM appointment_slots WHERE clinic_id = '${clinic.clinicId}' LOOP
           PERFORM book_appointment(v_slot, '${clinic.patientIds[0]}', 'loader', v_slot::text, '{}');
         END LOOP;
       END $$`,
    );
    const payments = await sql<{ id: string }>(db.pool, 'SELECT id FROM payments WHERE clinic_id = $1', [
      clinic.clinicId,
    ]);
    expect(payments).toHaveLength(EVENTS);
    for (let i = 0; i < payments.length; i += 100) {
      await Promise.all(
        payments
          .slice(i, i + 100)
          .map((p) =>
            sendStripe(
              t.app,
              stripeEvent('payment_intent.succeeded', paymentIntent(p.id), `evt_kill_${p.id}`),
            ),
          ),
      );
    }
    expect(await count(`status = 'pending'`)).toBe(EVENTS);

    const env = {
      DATABASE_URL: db.serviceUrl,
      CAREBOOK_WORKER_METRICS_PORT: '0',
      CAREBOOK_WORKER_BATCH_SIZE: '10',
      CAREBOOK_WORKER_CONCURRENCY: '1',
      CAREBOOK_WORKER_LEASE_SECONDS: '5',
      LOG_LEVEL: 'error',
    };
    const first = startCli(['worker', '--id', `doomed-${randomUUID().slice(0, 8)}`], env);
    children.push(first);
    const firstExit = new Promise<NodeJS.Signals | null>((resolve) =>
      first.on('exit', (_code, signal) => resolve(signal)),
    );
    // Kill once a good part is done and a batch is in flight (recorded, its transaction open).
    const batches = async () =>
      (
        await sql<{ n: number }>(
          db.pool,
          'SELECT coalesce(sum(cardinality(item_ids)), 0)::int AS n FROM queue_batches',
        )
      )[0]?.n ?? 0;
    const inFlight = async () => (await count(`status = 'success'`)) >= 100 && (await batches()) > 0;
    while (!(await inFlight())) await new Promise((resolve) => setTimeout(resolve, 5));
    first.kill('SIGKILL');
    expect(await firstExit).toBe('SIGKILL');
    expect(await count(`status = 'success'`)).toBeLessThan(EVENTS);
    // The killed batch's record outlives it; none of its events was settled.
    const orphaned = await batches();
    expect(orphaned).toBeGreaterThan(0);
    expect(await count(`status = 'pending'`)).toBeGreaterThanOrEqual(orphaned);

    const second = startCli(['worker'], env);
    children.push(second);
    const secondExit = new Promise<number | null>((resolve) => second.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 60_000;
    while ((await count(`status = 'success'`)) < EVENTS && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    second.kill('SIGTERM');
    expect(await secondExit).toBe(0);

    expect(await count(`status = 'success'`)).toBe(EVENTS);
    expect(await count(`attempts > 1`)).toBe(orphaned);
    expect(await batches()).toBe(0);
    const effects = await sql<{ payments: number; confirmed: number; audited: number }>(
      db.pool,
      `SELECT (SELECT count(*)::int FROM payments WHERE clinic_id = $1 AND status = 'succeeded') AS payments,
              (SELECT count(*)::int FROM appointments WHERE clinic_id = $1 AND status = 'confirmed') AS confirmed,
              (SELECT count(*)::int FROM audit.audit_log WHERE clinic_id = $1 AND table_name = 'payments' AND action = 'update'
                 AND new_values ->> 'status' = 'succeeded') AS audited`,
      [clinic.clinicId],
    );
    expect(effects).toEqual([{ payments: EVENTS, confirmed: EVENTS, audited: EVENTS }]);
  });
});
