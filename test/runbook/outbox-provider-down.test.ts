// The runbook's "A provider is down" and "Reconcile", for real: Stripe rate-limits the PaymentIntent
// of a booking, and `carebook status` shows the outbox kind failing (retrying); /admin/outbox lists
// the row with what Stripe said; once Stripe answers, the next attempt creates one PaymentIntent.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildTestApp, type TestApp } from '../helpers/app.js';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { createClinic, createSlot } from '../helpers/fixtures.js';
import { type OutboundFakes, outboxConfig, outboxWorker, startOutboundFakes } from '../helpers/outbox.js';

describe('runbook: a provider is down', () => {
  let db: TestDatabase;
  let t: TestApp;
  let fakes: OutboundFakes;
  let env: Record<string, string>;
  beforeAll(async () => {
    db = await createTestDatabase();
    ({ fakes, env } = await startOutboundFakes());
    t = await buildTestApp(db, env);
  });
  afterAll(async () => {
    await t?.close();
    await fakes?.stop();
    await db?.drop();
  });

  it('status shows the kind failing, /admin/outbox the error; the backlog drains once Stripe answers', async () => {
    const clinic = await createClinic(db.pool);
    const slot = await createSlot(db.pool, clinic, { priceCents: 3000, startsInMinutes: 3 * 24 * 60 });
    const booked = await t.app.inject({
      method: 'POST',
      url: '/api/appointments',
      headers: {
        ...(await bearer({ role: 'patient', clinic_id: clinic.clinicId, patient_id: clinic.patientIds[0] })),
        'idempotency-key': randomUUID(),
      },
      payload: { slot_id: slot },
    });
    expect(booked.statusCode).toBe(201);
    fakes.stripe.inject('POST /v1/payment_intents', { kind: 'rate_limit', retryAfterSeconds: 1 });
    await outboxWorker(db.pool, outboxConfig(env), t.metrics).drain();

    const status = await runCli(['status'], { DATABASE_URL: db.url });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^queue outbox\.payment\s+failed\s+1\b/m);

    const listed = await t.app.inject({
      method: 'GET',
      url: '/admin/outbox?status=pending&kind=payment&limit=20',
      headers: await bearer({ role: 'platform_admin', sub: 'oncall' }),
    });
    expect(listed.statusCode).toBe(200);
    const [row] = listed.json().rows as Array<{ attempts: number; last_error: string | null }>;
    expect(row?.attempts).toBe(1);
    expect(row?.last_error).toMatch(/rate|429/i);
    expect(row?.last_error).not.toContain(env.STRIPE_SECRET_KEY);

    // Stripe is back: the row is due again after its Retry-After; make it due now, as time would.
    await sql(db.pool, `UPDATE queue_jobs SET run_at = now() WHERE kind = 'outbox.payment'`);
    await outboxWorker(db.pool, outboxConfig(env), t.metrics).drain();
    expect(fakes.stripe.paymentIntents(booked.json().payment.id)).toHaveLength(1);
    const after = await runCli(['status'], { DATABASE_URL: db.url });
    expect(after.stdout).not.toMatch(/^queue outbox\.payment/m);
  });
});
