// Connection faults against real processes: backends killed while idle and mid-transaction, a
// database that refuses connections, one that stops answering. The API answers 503 with
// Retry-After (never 500), leaves no partial booking, stays up and serves again on its own; the
// worker survives its connections being killed and handles the next event.
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FaultProxy, startFaultProxy } from '../../src/dev/fault-proxy.js';
import { TEST_JWT_SECRET, token } from '../helpers/app.js';
import { startCli, waitForOutput } from '../helpers/cli.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { type ClinicFixture, createClinic, createSlot } from '../helpers/fixtures.js';
import { signStripe } from '../helpers/provider-signing.js';
import { until } from '../helpers/until.js';
import { paymentIntent, stripeEvent } from '../helpers/webhooks.js';

const STRIPE_SECRET = 'whsec_faults_0001';

describe('connection faults', () => {
  let db: TestDatabase;
  let proxy: FaultProxy;
  let clinic: ClinicFixture;
  let api: string;
  const children: ChildProcessWithoutNullStreams[] = [];

  const spawn = async (args: string[], env: Record<string, string>, ready: RegExp) => {
    const child = startCli(args, {
      LOG_LEVEL: 'info',
      CAREBOOK_JWT_SECRET: TEST_JWT_SECRET,
      STRIPE_WEBHOOK_SECRET: STRIPE_SECRET,
      ...env,
    });
    children.push(child);
    return (await waitForOutput(child, ready))[1] as string;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    clinic = await createClinic(db.pool, { patients: 8 });
    const server = new URL(db.serviceUrl);
    proxy = await startFaultProxy({ host: server.hostname, port: Number(server.port || 5432) });
    api = await spawn(
      ['serve'],
      { DATABASE_URL: proxy.urlFor(db.serviceUrl), PORT: '0' },
      /Server listening at (http:\/\/127\.0\.0\.1:\d+)/,
    );
    await spawn(
      ['worker'],
      { DATABASE_URL: db.serviceUrl, CAREBOOK_WORKER_METRICS_PORT: '0' },
      /(worker started)/,
    );
  });
  afterAll(async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise((resolve) => {
            if (child.exitCode !== null) return resolve(null);
            child.once('exit', resolve);
            child.kill('SIGTERM');
          }),
      ),
    );
    await proxy?.close();
    await db?.drop();
  });

  const book = async (patient: number, slot: string, key = randomUUID()) => {
    const response = await fetch(`${api}/api/appointments`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await token({ sub: `fault-${patient}`, role: 'patient', clinic_id: clinic.clinicId, patient_id: clinic.patientIds[patient] })}`,
        'content-type': 'application/json',
        'idempotency-key': key,
      },
      body: JSON.stringify({ slot_id: slot }),
    });
    return {
      status: response.status,
      retryAfter: response.headers.get('retry-after'),
      body: (await response.json()) as Record<string, unknown>,
    };
  };
  /** Waits for at least one matching backend, then terminates every one; returns how many. */
  const terminate = async (application: string, where = 'true') => {
    const matching = `datname = current_database() AND application_name LIKE $1 AND ${where}`;
    await expect
      .poll(
        async () =>
          (
            await sql<{ n: number }>(
              db.pool,
              `SELECT count(*)::int AS n FROM pg_stat_activity WHERE ${matching}`,
              [application],
            )
          )[0]?.n,
      )
      .toBeGreaterThan(0);
    return sql<{ n: number; pids: number[] }>(
      db.pool,
      `SELECT count(pg_terminate_backend(pid))::int AS n, array_agg(pid) AS pids
         FROM pg_stat_activity WHERE ${matching}`,
      [application],
    );
  };
  const alive = () => children.every((child) => child.exitCode === null);

  it('survives its idle connections being killed, and serves the next request', async () => {
    expect((await book(0, await createSlot(db.pool, clinic))).status).toBe(201);
    const [killed] = await terminate('carebook-api', `state = 'idle'`);
    expect(killed?.n).toBeGreaterThan(0);
    // pg_terminate_backend only signals the backends: a request sent at that very moment may still
    // reach one that is exiting (and gets 503 with Retry-After). The next request is the one sent
    // once they have exited and the proxy has closed their connections to the API.
    await until(async () => {
      const [live] = await sql<{ n: number; killed: number }>(
        db.pool,
        `SELECT count(*)::int AS n, count(*) FILTER (WHERE pid = ANY ($1))::int AS killed
           FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'carebook-api'`,
        [killed?.pids ?? []],
      );
      return live?.killed === 0 && proxy.open() === live.n;
    }, 'the killed backends gone and their connections closed');
    expect((await book(1, await createSlot(db.pool, clinic))).status).toBe(201);
    expect(alive()).toBe(true);
  });

  it('a backend killed mid-transaction leaves no partial booking; the retry books once', async () => {
    const slot = await createSlot(db.pool, clinic);
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('SELECT 1 FROM appointment_slots WHERE id = $1 FOR UPDATE', [slot]);
    const key = randomUUID();
    const pending = book(2, slot, key);
    await expect
      .poll(
        async () =>
          (
            await sql<{ n: number }>(
              db.pool,
              `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'carebook-api' AND wait_event_type = 'Lock'`,
            )
          )[0]?.n,
      )
      .toBe(1);
    await terminate('carebook-api', `wait_event_type = 'Lock'`);
    const interrupted = await pending;
    await locker.query('ROLLBACK');
    await locker.end();
    expect(interrupted).toMatchObject({
      status: 503,
      retryAfter: '2',
      body: { code: 'database_unavailable' },
    });
    expect(
      await sql(db.pool, 'SELECT count(*)::int AS n FROM appointments WHERE slot_id = $1', [slot]),
    ).toEqual([{ n: 0 }]);
    expect(
      await sql(db.pool, 'SELECT count(*)::int AS n FROM booking_requests WHERE idempotency_key = $1', [key]),
    ).toEqual([{ n: 0 }]);
    expect((await book(2, slot, key)).status).toBe(201);
    expect(
      await sql(db.pool, 'SELECT count(*)::int AS n FROM appointments WHERE slot_id = $1', [slot]),
    ).toEqual([{ n: 1 }]);
    expect(alive()).toBe(true);
  });

  it('answers 503 with Retry-After while the database refuses connections, and recovers by itself', async () => {
    const slot = await createSlot(db.pool, clinic);
    proxy.setMode('refuse');
    for (let i = 0; i < 5; i++) {
      expect(await book(3, slot)).toMatchObject({
        status: 503,
        retryAfter: '2',
        body: { code: 'database_unavailable' },
      });
    }
    expect((await fetch(`${api}/readyz`)).status).toBe(503);
    proxy.setMode('pass');
    await expect.poll(async () => (await fetch(`${api}/readyz`)).status, { timeout: 10_000 }).toBe(200);
    expect((await book(3, slot)).status).toBe(201);
    expect(alive()).toBe(true);
  });

  it('answers 503 when the database stops answering (black hole), within the client timeouts', async () => {
    const slot = await createSlot(db.pool, clinic);
    proxy.setMode('blackhole');
    const started = Date.now();
    expect(await book(4, slot)).toMatchObject({
      status: 503,
      retryAfter: '2',
      body: { code: 'database_unavailable' },
    });
    expect(Date.now() - started).toBeLessThan(15_000);
    proxy.setMode('pass');
    await expect.poll(async () => (await book(4, slot)).status, { timeout: 15_000 }).toBe(201);
    expect(alive()).toBe(true);
  });

  it('the worker survives its connections being killed and handles the next event', async () => {
    const slot = await createSlot(db.pool, clinic, { priceCents: 3000, currency: 'USD' });
    const booked = await book(5, slot);
    const payment = (booked.body.payment as { id: string }).id;
    const [killed] = await terminate('carebook-worker%'); // its pool and its LISTEN connection
    expect(killed?.n).toBeGreaterThan(0);
    const body = stripeEvent('payment_intent.succeeded', paymentIntent(payment), `evt_fault_${payment}`);
    const delivered = await fetch(`${api}/webhooks/stripe`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'stripe-signature': signStripe(body, STRIPE_SECRET, Math.floor(Date.now() / 1000)),
      },
      body,
    });
    expect(delivered.status).toBe(200);
    await expect
      .poll(
        async () =>
          (await sql<{ status: string }>(db.pool, 'SELECT status FROM payments WHERE id = $1', [payment]))[0]
            ?.status,
        { timeout: 20_000 },
      )
      .toBe('succeeded');
    expect(alive()).toBe(true);
  });
});
