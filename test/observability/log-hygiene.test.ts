// What src/observability/logger.ts promises: secrets and patient data never reach the log. A server
// on a real socket, logging at trace (every request, every response), is sent a signed-in clinic
// admin's requests that carry a patient's name, phone and date of birth, a bad token, a signed and
// a wrongly signed Stripe delivery, Meta's handshake with the verify token, and the metrics token;
// then no log line may hold any of those values, while the lines show the requests were logged.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Listening, listen } from '../../src/http/server.js';
import { createLogger } from '../../src/observability/logger.js';
import { buildTestApp, TEST_JWT_SECRET, TEST_METRICS_TOKEN, type TestApp, token } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { signStripe } from '../helpers/provider-signing.js';
import { paymentIntent, STRIPE_SECRET, stripeEvent, WEBHOOK_ENV } from '../helpers/webhooks.js';

describe('the log', () => {
  let db: TestDatabase;
  let t: TestApp;
  let server: Listening;
  const lines: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    t = await buildTestApp(db, WEBHOOK_ENV, { logger: createLogger('trace', 'test', stream) });
    server = await listen(t.app, '127.0.0.1', 0);
  });
  afterAll(async () => {
    await server?.close();
    await db?.drop();
  });

  it('holds no secret and no patient data from the requests it logged', async () => {
    const patient = {
      full_name: 'Philippa Quennell-Orrin',
      phone: '+4798765432',
      date_of_birth: '1961-07-19',
    };
    const platform = await token({ role: 'platform_admin', sub: 'ops-log' });
    const send = (path: string, init: RequestInit = {}, bearer?: string) =>
      fetch(`${server.url}${path}`, {
        ...init,
        headers: {
          ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
          ...(init.body ? { 'content-type': 'application/json' } : {}),
          ...(init.headers as Record<string, string>),
        },
      });

    const clinic = (await (
      await send(
        '/api/clinics',
        {
          method: 'POST',
          body: JSON.stringify({ name: 'Log Hill', slug: `log-hill-${Date.now()}`, timezone: 'UTC' }),
        },
        platform,
      )
    ).json()) as { id: string };
    const admin = await token({ role: 'clinic_admin', clinic_id: clinic.id, sub: 'log-admin' });
    const patients = `/api/clinics/${clinic.id}/patients`;
    expect((await send(patients, { method: 'POST', body: JSON.stringify(patient) }, admin)).status).toBe(201);
    expect(await (await send(patients, {}, admin)).text()).toContain(patient.full_name);
    const refused = { ...patient, date_of_birth: `${patient.date_of_birth}T00:00` };
    expect((await send(patients, { method: 'POST', body: JSON.stringify(refused) }, admin)).status).toBe(400);
    const forged = `${admin.slice(0, -4)}AAAA`;
    expect((await send(patients, {}, forged)).status).toBe(401);

    const event = stripeEvent('payment_intent.succeeded', paymentIntent(null));
    const signature = signStripe(event, STRIPE_SECRET, Math.floor(Date.now() / 1000));
    const wrong = signStripe(event, 'whsec_not_ours', Math.floor(Date.now() / 1000));
    for (const header of [signature, wrong]) {
      await send('/webhooks/stripe', {
        method: 'POST',
        body: event,
        headers: { 'stripe-signature': header },
      });
    }
    const verify = WEBHOOK_ENV.WHATSAPP_VERIFY_TOKEN;
    const handshake = await send(
      `/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=${verify}&hub.challenge=42`,
    );
    expect(await handshake.text()).toBe('42');
    expect((await send('/metrics', {}, TEST_METRICS_TOKEN)).status).toBe(200);

    const log = lines.join('');
    // The requests were logged, with the handshake's query kept but its token redacted.
    for (const seen of [patients, '/webhooks/stripe', 'hub.verify_token=%5Bredacted%5D', '/metrics']) {
      expect(log, seen).toContain(seen);
    }
    const secrets = {
      'patient name': patient.full_name,
      'patient phone': patient.phone,
      'patient date of birth': patient.date_of_birth,
      'bearer token': admin,
      'forged token': forged,
      'platform token': platform,
      'JWT secret': TEST_JWT_SECRET,
      'metrics token': TEST_METRICS_TOKEN,
      'Stripe signature': signature.split('v1=')[1] as string,
      'wrong Stripe signature': wrong.split('v1=')[1] as string,
      'Stripe secret': STRIPE_SECRET,
      'verify token': verify,
    };
    for (const [what, value] of Object.entries(secrets)) expect(log.includes(value), what).toBe(false);
  });
});
