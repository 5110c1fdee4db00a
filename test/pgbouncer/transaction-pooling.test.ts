// Carebook behind a real PgBouncer in transaction mode (Debian's pgbouncer), as platforms deploy
// it: two `carebook serve` and two `carebook worker` processes share 10 server connections. A
// 200-way race gives one booking, 300 distinct bookings all succeed, 300 signed events are each
// handled once — no 5xx, and no prepared-statement error in any log. One worker LISTENs on a
// direct URL, the other polls. `carebook migrate` refuses to run through the pooler.
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PgBouncer, startPgBouncer } from '../../src/dev/pgbouncer.js';
import { TEST_JWT_SECRET, token } from '../helpers/app.js';
import { runCli, startCli, waitForOutput } from '../helpers/cli.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { createClinic } from '../helpers/fixtures.js';
import { signStripe } from '../helpers/provider-signing.js';
import { paymentIntent, stripeEvent } from '../helpers/webhooks.js';

const STRIPE_SECRET = 'whsec_pgbouncer_suite_0001';

interface Running {
  child: ChildProcessWithoutNullStreams;
  output: string[];
}

describe('through PgBouncer in transaction mode', () => {
  let db: TestDatabase;
  let bouncer: PgBouncer;
  const processes: Running[] = [];
  const apis: string[] = [];
  const statuses: number[] = [];

  const start = async (args: string[], env: Record<string, string>, ready: RegExp) => {
    const child = startCli(args, {
      LOG_LEVEL: 'info',
      CAREBOOK_JWT_SECRET: TEST_JWT_SECRET,
      STRIPE_WEBHOOK_SECRET: STRIPE_SECRET,
      ...env,
    });
    const running = { child, output: [] as string[] };
    child.stdout.on('data', (chunk) => running.output.push(String(chunk)));
    child.stderr.on('data', (chunk) => running.output.push(String(chunk)));
    processes.push(running);
    return (await waitForOutput(child, ready))[1];
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    const login = new URL(db.serviceUrl);
    bouncer = await startPgBouncer({
      serverUrl: db.url,
      users: {
        [decodeURIComponent(login.username)]: decodeURIComponent(login.password),
        [new URL(db.url).username]: '',
      },
      poolSize: 10,
    });
    const pooled = bouncer.urlFor(db.serviceUrl);
    for (let i = 0; i < 2; i++) {
      apis.push(
        (await start(
          ['serve'],
          { DATABASE_URL: pooled, PORT: '0' },
          /Server listening at (http:\/\/127\.0\.0\.1:\d+)/,
        )) as string,
      );
    }
    await start(
      ['worker'],
      {
        DATABASE_URL: pooled,
        CAREBOOK_LISTEN_DATABASE_URL: db.serviceUrl,
        CAREBOOK_WORKER_METRICS_PORT: '0',
      },
      /(worker started)/,
    );
    await start(['worker'], { DATABASE_URL: pooled, CAREBOOK_WORKER_METRICS_PORT: '0' }, /(worker started)/);
  });

  afterAll(async () => {
    await Promise.all(
      processes.map(
        ({ child }) =>
          new Promise((resolve) => {
            if (child.exitCode !== null) return resolve(null);
            child.once('exit', resolve);
            child.kill('SIGTERM');
          }),
      ),
    );
    await bouncer?.stop();
    await db?.drop();
  });

  const post = async (i: number, path: string, headers: Record<string, string>, body: string) => {
    const response = await fetch(`${apis[i % apis.length]}${path}`, { method: 'POST', headers, body });
    statuses.push(response.status);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const book = async (i: number, clinicId: string, patientId: string, slotId: string) =>
    post(
      i,
      '/api/appointments',
      {
        authorization: `Bearer ${await token({ sub: `patient-${patientId}`, role: 'patient', clinic_id: clinicId, patient_id: patientId })}`,
        'content-type': 'application/json',
        'idempotency-key': randomUUID(),
      },
      JSON.stringify({ slot_id: slotId }),
    );
  const slots = async (clinicId: string, practitionerId: string, n: number) =>
    (
      await sql<{ id: string }>(
        db.pool,
        `INSERT INTO appointment_slots (clinic_id, practitioner_id, starts_at, ends_at, price_cents, currency)
         SELECT $1, $2, now() + interval '3 days' + g * interval '30 minutes', now() + interval '3 days' + (g + 1) * interval '30 minutes', 4000, 'USD'
           FROM generate_series(1, $3) g RETURNING id`,
        [clinicId, practitionerId, n],
      )
    ).map((row) => row.id);

  it('detected the pooler: unnamed statements, and polling where there is no direct LISTEN URL', () => {
    const logs = processes.map((p) => p.output.join(''));
    for (const log of logs) expect(log).toContain('"pooling":"transaction"');
    expect(
      logs.filter((log) => log.includes('the worker polls for new events')).length,
    ).toBeGreaterThanOrEqual(1);
  });

  it('a 200-way race on one slot gives one 201 and 199 × 409', async () => {
    const clinic = await createClinic(db.pool, { patients: 200 });
    const [slot] = await slots(clinic.clinicId, clinic.practitionerId, 1);
    const answers = await Promise.all(
      clinic.patientIds.map((patient, i) => book(i, clinic.clinicId, patient, slot as string)),
    );
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 409 && a.body.code === 'slot_unavailable')).toHaveLength(199);
  });

  it('300 distinct bookings give 300 × 201, and 300 signed events are each handled once', async () => {
    const clinic = await createClinic(db.pool, { patients: 300 });
    const free = await slots(clinic.clinicId, clinic.practitionerId, 300);
    const answers = await Promise.all(
      free.map((slot, i) => book(i, clinic.clinicId, clinic.patientIds[i] as string, slot)),
    );
    expect(answers.map((a) => a.status)).toEqual(free.map(() => 201));
    const payments = answers.map((a) => (a.body.payment as { id: string }).id);
    const deliveries = await Promise.all(
      payments.map((payment, i) => {
        const body = stripeEvent('payment_intent.succeeded', paymentIntent(payment), `evt_pgb_${i}`);
        const signature = signStripe(body, STRIPE_SECRET, Math.floor(Date.now() / 1000));
        return post(
          i,
          '/webhooks/stripe',
          { 'content-type': 'application/json', 'stripe-signature': signature },
          body,
        );
      }),
    );
    expect(deliveries.every((d) => d.status === 200 && d.body.received === 1)).toBe(true);
    await expect
      .poll(
        async () =>
          (
            await sql<{ n: number }>(
              db.pool,
              `SELECT count(*)::int AS n FROM webhook_events WHERE event_id LIKE 'evt_pgb_%' AND status = 'success'`,
            )
          )[0]?.n,
        {
          timeout: 30_000,
          interval: 200,
        },
      )
      .toBe(300);
    expect(
      await sql(
        db.pool,
        `SELECT (SELECT count(*)::int FROM payments WHERE clinic_id = $1 AND status = 'succeeded') AS paid,
                (SELECT count(*)::int FROM webhook_events WHERE event_id LIKE 'evt_pgb_%' AND attempts <> 1) AS retried,
                (SELECT count(*)::int FROM audit.audit_log WHERE clinic_id = $1 AND table_name = 'payments'
                   AND new_values ->> 'status' = 'succeeded') AS transitions`,
        [clinic.clinicId],
      ),
    ).toEqual([{ paid: 300, retried: 0, transitions: 300 }]);
  });

  it('answered no request with a 5xx and logged no prepared-statement error', () => {
    expect(statuses).toHaveLength(800);
    expect(statuses.filter((status) => status >= 500)).toEqual([]);
    expect(processes).toHaveLength(4);
    for (const { output } of processes) expect(output.join('')).not.toMatch(/prepared statement/i);
  });

  it('control: the same API with named statements forced (CAREBOOK_DATABASE_POOLING=session) fails here', async () => {
    const forced = await start(
      ['serve'],
      { DATABASE_URL: bouncer.urlFor(db.serviceUrl), PORT: '0', CAREBOOK_DATABASE_POOLING: 'session' },
      /Server listening at (http:\/\/127\.0\.0\.1:\d+)/,
    );
    const clinic = await createClinic(db.pool, { patients: 60 });
    const free = await slots(clinic.clinicId, clinic.practitionerId, 60);
    const answers = await Promise.all(
      free.map(async (slot, i) => {
        const response = await fetch(`${forced}/api/appointments`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${await token({ sub: `forced-${i}`, role: 'patient', clinic_id: clinic.clinicId, patient_id: clinic.patientIds[i] })}`,
            'content-type': 'application/json',
            'idempotency-key': randomUUID(),
          },
          body: JSON.stringify({ slot_id: slot }),
        });
        return response.status;
      }),
    );
    expect(answers.filter((status) => status >= 500).length).toBeGreaterThan(0);
    expect(processes.at(-1)?.output.join('')).toMatch(
      /prepared statement \\?"cb_[0-9a-f]+\\?" (already exists|does not exist)/,
    );
  });

  it('carebook migrate refuses to run through the pooler, in one line', async () => {
    const result = await runCli(['migrate', 'up'], { DATABASE_URL: bouncer.urlFor(db.url) });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      'carebook: refusing to migrate through a transaction pooler (PgBouncer pool_mode=transaction): point DATABASE_URL straight at PostgreSQL (or a session-mode pool) for `carebook migrate`',
    );
  });
});
