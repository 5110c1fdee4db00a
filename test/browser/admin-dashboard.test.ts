// /admin in headless Chromium: paste a token, watch the numbers move after a booking and a
// webhook, replay a dead letter from the table, and keep a screenshot (artifacts/admin-dashboard.png);
// an outbox dead letter (a PaymentIntent the fake Stripe refused) replayed from its table, audited.
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { type Listening, listen } from '../../src/http/server.js';
import { createLogger } from '../../src/observability/logger.js';
import { queueKinds } from '../../src/queue/kinds.js';
import { QueueWorker } from '../../src/queue/worker.js';
import { bearer, buildTestApp, type TestApp, token } from '../helpers/app.js';
import { ROOT } from '../helpers/cli.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { createClinic, createSlot } from '../helpers/fixtures.js';
import { outboxConfig, outboxWorker, startOutboundFakes } from '../helpers/outbox.js';
import { sendStripe, stripeEvent, WEBHOOK_ENV } from '../helpers/webhooks.js';

const SCREENSHOT = path.join(ROOT, 'artifacts', 'admin-dashboard.png');

describe('the /admin dashboard in Chromium', () => {
  let db: TestDatabase;
  let t: TestApp;
  let server: Listening;
  let browser: Browser;
  let page: Page;
  let worker: QueueWorker;

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await buildTestApp(db, WEBHOOK_ENV);
    server = await listen(t.app, '127.0.0.1', 0);
    const config = loadConfig({
      ...WEBHOOK_ENV,
      CAREBOOK_JWT_SECRET: 'x'.repeat(40),
      CAREBOOK_WEBHOOK_MAX_ATTEMPTS: '1',
    });
    worker = new QueueWorker({
      pool: db.pool,
      listenUrl: db.url,
      logger: createLogger('silent'),
      metrics: t.metrics,
      kinds: queueKinds(config, t.metrics),
    });
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await db?.drop();
  });

  const text = async (testId: string) => (await page.getByTestId(testId).textContent()) ?? '';
  const waitForText = (testId: string, predicate: (value: string) => boolean) =>
    expect.poll(() => text(testId), { timeout: 15_000, interval: 200 }).toSatisfy(predicate);

  it('shows live numbers, follows a booking and a webhook, and replays a dead letter', async () => {
    await page.goto(`${server.url}/admin`);
    await page.getByLabel('Bearer token').fill(await token({ role: 'platform_admin', sub: 'browser-admin' }));
    await page.getByRole('button', { name: 'Connect' }).click();
    await expect.poll(() => page.locator('#status').textContent(), { timeout: 15_000 }).toMatch(/^Live/);
    const attemptsBefore = Number(await text('booking-attempts'));

    // A booking moves the booking numbers.
    const clinic = await createClinic(db.pool);
    const slot = await createSlot(db.pool, clinic, { priceCents: 1000, currency: 'USD' });
    const patient = {
      ...(await bearer({ role: 'patient', clinic_id: clinic.clinicId, patient_id: clinic.patientIds[0] })),
      'idempotency-key': randomUUID(),
    };
    const booked = await t.app.inject({
      method: 'POST',
      url: '/api/appointments',
      headers: patient,
      payload: { slot_id: slot },
    });
    expect(booked.statusCode).toBe(201);
    await waitForText('booking-attempts', (value) => Number(value) === attemptsBefore + 1);
    await waitForText('holds', (value) => value.startsWith('1 /'));

    // A webhook, handled by the worker, moves the processing rate.
    await sendStripe(
      t.app,
      stripeEvent('payment_intent.succeeded', {
        id: 'pi_browser',
        metadata: { carebook_payment_id: booked.json().payment.id },
      }),
    );
    await worker.drain();
    await waitForText('webhook-rate', (value) => value.includes('stripe 1'));

    // A poisoned event dead-letters (one attempt allowed here) and shows up in the table.
    await sendStripe(
      t.app,
      stripeEvent(
        'charge.refunded',
        { id: 'ch_browser', payment_intent: 'pi_nobody_knows' },
        'evt_browser_dead',
      ),
    );
    await worker.drain();
    await waitForText('dead-letters', (value) => value === '1');
    await page.getByRole('button', { name: 'Refresh' }).click();
    const row = page.locator('tr', { hasText: 'evt_browser_dead' });
    await expect.poll(() => row.count(), { timeout: 15_000 }).toBe(1);
    await mkdir(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // Replay it from the table, with a reason typed into the prompt.
    page.once('dialog', (dialog) => dialog.accept('browser test: replay from the dashboard'));
    await row.getByRole('button', { name: 'Replay' }).click();
    await expect
      .poll(() => page.locator('#status').textContent(), { timeout: 15_000 })
      .toMatch(/Replayed evt_browser_dead/);
    expect(
      await sql(db.pool, `SELECT status, attempts FROM webhook_events WHERE event_id = 'evt_browser_dead'`),
    ).toEqual([{ status: 'pending', attempts: 0 }]);
    expect(
      await sql(db.pool, `SELECT actor, reason FROM audit.audit_log WHERE action = 'webhook.replay'`),
    ).toEqual([{ actor: 'browser-admin', reason: 'browser test: replay from the dashboard' }]);
    await waitForText('dead-letters', (value) => value === '0');
  });

  it('lists an outbox dead letter and replays it from the table, audited', async () => {
    const { fakes, env } = await startOutboundFakes();
    try {
      const clinic = await createClinic(db.pool);
      fakes.stripe.inject('POST /v1/payment_intents', { kind: 'reject', code: 'parameter_invalid' });
      const slot = await createSlot(db.pool, clinic, { priceCents: 1200, startsInMinutes: 3 * 24 * 60 });
      const booked = await t.app.inject({
        method: 'POST',
        url: '/api/appointments',
        headers: {
          ...(await bearer({
            role: 'patient',
            clinic_id: clinic.clinicId,
            patient_id: clinic.patientIds[0],
          })),
          'idempotency-key': randomUUID(),
        },
        payload: { slot_id: slot },
      });
      expect(booked.statusCode).toBe(201);
      const outbound = outboxWorker(db.pool, outboxConfig(env), t.metrics);
      await outbound.drain();
      await page.getByRole('button', { name: 'Refresh' }).click();
      const row = page
        .getByTestId('outbox-dead-rows')
        .locator('tr', { hasText: booked.json().appointment.id });
      await expect.poll(() => row.count(), { timeout: 15_000 }).toBe(1);
      page.once('dialog', (dialog) => dialog.accept('browser test: Stripe fixed'));
      await row.getByRole('button', { name: 'Replay' }).click();
      await expect
        .poll(() => page.locator('#status').textContent(), { timeout: 15_000 })
        .toMatch(/Replayed payment/);
      expect(
        await sql(db.pool, `SELECT actor, reason FROM audit.audit_log WHERE action = 'queue.replay'`),
      ).toEqual([{ actor: 'browser-admin', reason: 'browser test: Stripe fixed' }]);
      await outbound.drain();
      expect(fakes.stripe.paymentIntents(booked.json().payment.id)).toHaveLength(1);
    } finally {
      await fakes.stop();
    }
  });
});
