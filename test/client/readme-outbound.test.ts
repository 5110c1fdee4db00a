// The README's "Try it: pay, meet, get messages" steps, as `npm start` runs them: the local fake
// providers `carebook dev` starts when no provider variable is set (src/dev/local-providers.ts),
// the configuration they lay over the environment, a real listening server on the demo data and
// the worker. Book Dr. Clara Schmidt's priced video visit as Mia Demo, read the PaymentIntent,
// pay it through the control server (a signed payment_intent.succeeded to /webhooks/stripe),
// find the confirmation SMS and the private room at the fakes, cancel: refunded, room gone. Also: real variables win.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalProviders, providersToFake, startLocalProviders } from '../../src/dev/local-providers.js';
import { type Listening, listen } from '../../src/http/server.js';
import { regenerateAll } from '../../src/schedules/generate-all.js';
import { buildTestApp, type TestApp, token } from '../helpers/app.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { drainOutbox, outboxOf } from '../helpers/outbox.js';

/** The README's ids: Northside Telehealth, Dr. Clara Schmidt (video, 4000 EUR), Mia Demo. */
const NORTHSIDE = '22222222-2222-4222-8222-222222222222';
const MIA = 'b3000000-0000-4000-8000-000000000001';
const MIA_PHONE = '+4915550199001';

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies, read by shape in the assertions
type Body = Record<string, any>;

describe('README: the outbound walkthrough on the local fakes', () => {
  let db: TestDatabase;
  let t: TestApp;
  let server: Listening;
  let local: LocalProviders;
  let env: Record<string, string>;
  beforeAll(async () => {
    db = await createTestDatabase();
    await sql(db.pool, 'SELECT seed_demo_data(28)');
    await regenerateAll(db.pool, { actor: 'test' });
    local = (await startLocalProviders({}))!;
    env = local.env;
    t = await buildTestApp(db, env);
    server = await listen(t.app, '127.0.0.1', 0);
    // As `npm start` with HOST=0.0.0.0 announces itself: the fakes still deliver over loopback.
    local.deliverTo(server.url.replace('127.0.0.1', '0.0.0.0'));
  });
  afterAll(async () => {
    await server?.close();
    await local?.stop();
    await db?.drop();
  });

  const drain = () => drainOutbox(db.pool, env, t.metrics);
  const api = async (url: string, init: RequestInit = {}) => {
    const authorization = `Bearer ${await token({ role: 'patient', clinic_id: NORTHSIDE, patient_id: MIA, sub: 'mia' })}`;
    const response = await fetch(`${server.url}${url}`, {
      ...init,
      headers: {
        authorization,
        ...(init.body ? { 'content-type': 'application/json' } : {}),
        ...init.headers,
      },
    });
    return { status: response.status, body: (await response.json()) as Body };
  };

  it('uses the ids the README uses', async () => {
    const readme = await readFile(path.resolve(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
    for (const id of [NORTHSIDE, MIA, '/stripe/payment_intents/$PI/succeed']) expect(readme).toContain(id);
  });

  it('fakes every provider none of whose variables is set; real variables win', () => {
    expect(Object.keys(env).sort()).toEqual(
      [
        'DAILY_API_BASE',
        'DAILY_API_KEY',
        'STRIPE_API_BASE',
        'STRIPE_SECRET_KEY',
        'STRIPE_WEBHOOK_SECRET',
        'TWILIO_ACCOUNT_SID',
        'TWILIO_API_BASE',
        'TWILIO_AUTH_TOKEN',
        'TWILIO_MESSAGING_SERVICE_SID',
        'WHATSAPP_ACCESS_TOKEN',
        'WHATSAPP_API_BASE',
        'WHATSAPP_PHONE_NUMBER_ID',
      ].sort(),
    );
    for (const name of ['STRIPE_API_BASE', 'DAILY_API_BASE', 'TWILIO_API_BASE', 'WHATSAPP_API_BASE'])
      expect(env[name]).toMatch(/^http:\/\/127\.0\.0\.1:\d+/);
    expect(local.lines).toEqual([
      expect.stringMatching(/^stripe: local fake at http:\/\/127\.0\.0\.1:\d+$/),
      expect.stringMatching(/^daily: local fake at http:\/\/127\.0\.0\.1:\d+\/v1$/),
      expect.stringMatching(/^twilio: local fake at http:\/\/127\.0\.0\.1:\d+$/),
      expect.stringMatching(/^whatsapp: local fake at http:\/\/127\.0\.0\.1:\d+\/v21\.0$/),
    ]);
    expect(providersToFake({ STRIPE_SECRET_KEY: 'sk_live_x', WHATSAPP_API_BASE: 'http://x' })).toEqual([
      'daily',
      'twilio',
    ]);
    expect(providersToFake({ TWILIO_FROM: '+15550000000', DAILY_API_KEY: 'k' })).toEqual([
      'stripe',
      'whatsapp',
    ]);
  });

  it('books, shows the PaymentIntent, pays it at the fake, and the SMS and the room follow', async () => {
    const listed = await api(`/api/clinics/${NORTHSIDE}/slots?available=true&limit=1`);
    const slot = listed.body.slots[0];
    expect(slot).toMatchObject({ visit_type: 'video', price_cents: 4000, currency: 'EUR' });
    const booked = await api('/api/appointments', {
      method: 'POST',
      headers: { 'idempotency-key': randomUUID() },
      body: JSON.stringify({ slot_id: slot.id }),
    });
    expect(booked.status).toBe(201);
    const appointment = booked.body.appointment.id as string;
    await drain();

    const payment = await api(`/api/payments/${booked.body.payment.id}`);
    expect(payment.body).toMatchObject({
      status: 'pending',
      payment_intent_id: expect.stringMatching(/^pi_/),
      client_secret: expect.stringMatching(/^pi_.+_secret_/),
    });
    const intent = payment.body.payment_intent_id as string;
    const before = (await (await fetch(local.controlUrl)).json()) as Body;
    expect(before.stripe.payment_intents).toEqual([
      expect.objectContaining({
        id: intent,
        amount: 4000,
        currency: 'eur',
        status: 'requires_payment_method',
      }),
    ]);
    expect(JSON.stringify(before)).not.toContain('_secret_');

    const paid = await fetch(`${local.controlUrl}/stripe/payment_intents/${intent}/succeed`, {
      method: 'POST',
    });
    expect(await paid.json()).toEqual({ payment_intent: intent, status: 'succeeded', webhook_status: 200 });
    await drain();

    expect((await api(`/api/appointments/${appointment}`)).body.appointment.status).toBe('confirmed');
    const after = (await (await fetch(local.controlUrl)).json()) as Body;
    expect(after.twilio.messages).toEqual([
      expect.objectContaining({ to: MIA_PHONE, body: expect.stringContaining('is confirmed') }),
    ]);
    expect(after.daily.rooms).toEqual([expect.objectContaining({ privacy: 'private' })]);
    const rows = await outboxOf(db.pool, appointment);
    expect(
      rows
        .filter((row) => row.status === 'succeeded')
        .map((row) => row.kind)
        .sort(),
    ).toEqual(['message', 'payment', 'room']);

    const cancelled = await api(`/api/appointments/${appointment}/cancel`, { method: 'POST' });
    expect(cancelled.status, JSON.stringify(cancelled.body)).toBe(200);
    await drain();
    const done = (await (await fetch(local.controlUrl)).json()) as Body;
    expect(done.stripe.refunds).toEqual([expect.objectContaining({ payment_intent: intent, amount: 4000 })]);
    expect(done.daily.rooms).toEqual([]);
  });

  it('the control server refuses what it cannot do', async () => {
    const unknown = await fetch(`${local.controlUrl}/stripe/payment_intents/pi_nothing/succeed`, {
      method: 'POST',
    });
    expect(unknown.status).toBe(404);
  });
});
