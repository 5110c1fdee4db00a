// /admin: the page is served with a strict CSP and no data; /admin/stats is for platform admins and
// its numbers follow bookings and webhooks.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { histogramQuantile } from '../../src/observability/stats.js';
import { bearer, buildTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { createClinic, createSlot } from '../helpers/fixtures.js';
import { sendStripe, stripeEvent, WEBHOOK_ENV } from '../helpers/webhooks.js';

describe('operations dashboard', () => {
  let db: TestDatabase;
  let t: TestApp;
  beforeAll(async () => {
    db = await createTestDatabase();
    t = await buildTestApp(db, WEBHOOK_ENV);
  });
  afterAll(async () => {
    await t.close();
    await db.drop();
  });

  it('serves the page and its script without data, under a CSP that forbids inline scripts', async () => {
    const page = await t.app.inject({ method: 'GET', url: '/admin' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.body).toContain('<script src="/admin/dashboard.js"></script>');
    expect(page.body).not.toMatch(/<script>[^<]/);
    // With a trailing slash too (it was a 405 once): the router ignores trailing slashes.
    const slashed = await t.app.inject({ method: 'GET', url: '/admin/' });
    expect(slashed.statusCode).toBe(200);
    expect(slashed.body).toBe(page.body);
    const script = await t.app.inject({ method: 'GET', url: '/admin/dashboard.js' });
    expect(script.headers['content-type']).toContain('javascript');
    expect(script.body).toContain('fetch(path');
  });

  it('gives stats to platform admins only', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/admin/stats' })).statusCode).toBe(401);
    const staff = await bearer({ role: 'staff', clinic_id: randomUUID() });
    expect((await t.app.inject({ method: 'GET', url: '/admin/stats', headers: staff })).statusCode).toBe(403);
  });

  it('counts bookings, conflicts, webhook intake and dead letters', async () => {
    const admin = await bearer({ role: 'platform_admin', sub: 'ops' });
    const stats = async () =>
      (await t.app.inject({ method: 'GET', url: '/admin/stats', headers: admin })).json();
    const before = await stats();
    const clinic = await createClinic(db.pool);
    const slot = await createSlot(db.pool, clinic, { priceCents: 100, currency: 'USD' });
    for (const patient of clinic.patientIds) {
      const headers = {
        ...(await bearer({ role: 'patient', clinic_id: clinic.clinicId, patient_id: patient })),
        'idempotency-key': randomUUID(),
      };
      await t.app.inject({ method: 'POST', url: '/api/appointments', headers, payload: { slot_id: slot } });
    }
    await sendStripe(
      t.app,
      stripeEvent('charge.refunded', { id: 'ch_x', payment_intent: 'pi_unknown' }, 'evt_dash_dead'),
    );
    await db.pool.query(`UPDATE webhook_events SET status = 'dead_letter' WHERE event_id = 'evt_dash_dead'`);
    const after = await stats();
    expect(after.booking.attempts.created - (before.booking.attempts.created ?? 0)).toBe(1);
    expect(after.booking.conflicts - before.booking.conflicts).toBe(clinic.patientIds.length - 1);
    expect(after.booking.latencyMs.p99).toBeGreaterThan(0);
    expect(after.booking.activeHolds).toBe(before.booking.activeHolds + 1);
    expect(after.booking.slotsNeedingReview).toBe(before.booking.slotsNeedingReview);
    expect(after.webhooks.received.stripe.accepted).toBeGreaterThanOrEqual(1);
    expect(after.webhooks.deadLetters).toEqual({ stripe: 1 });
  });

  it('counts booked slots that need review after a schedule change', async () => {
    const admin = await bearer({ role: 'platform_admin', sub: 'ops' });
    const review = async () =>
      (await t.app.inject({ method: 'GET', url: '/admin/stats', headers: admin })).json().booking
        .slotsNeedingReview;
    const before = await review();
    const clinic = await createClinic(db.pool);
    const slot = await createSlot(db.pool, clinic);
    const headers = {
      ...(await bearer({ role: 'patient', clinic_id: clinic.clinicId, patient_id: clinic.patientIds[0] })),
      'idempotency-key': randomUUID(),
    };
    await t.app.inject({ method: 'POST', url: '/api/appointments', headers, payload: { slot_id: slot } });
    await db.pool.query(`UPDATE appointment_slots SET status = 'needs_review' WHERE id = $1`, [slot]);
    expect(await review()).toBe(before + 1);
  });

  it('estimates quantiles from cumulative buckets as PromQL does', () => {
    const buckets = [
      { le: 0.01, count: 50 },
      { le: 0.1, count: 90 },
      { le: 1, count: 100 },
      { le: Number.POSITIVE_INFINITY, count: 100 },
    ];
    expect(histogramQuantile(buckets, 0.5)).toBeCloseTo(0.01);
    expect(histogramQuantile(buckets, 0.7)).toBeCloseTo(0.055);
    expect(histogramQuantile(buckets, 0.99)).toBeCloseTo(0.91);
    expect(histogramQuantile([{ le: 1, count: 0 }], 0.5)).toBeNull();
  });
});
