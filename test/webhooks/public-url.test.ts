// Security review M4: Twilio signs the full URL it calls and no timestamp, so the URL it is checked
// against must be this deployment's own, from CAREBOOK_PUBLIC_URL — never from the Host header,
// which the caller chooses. Without CAREBOOK_PUBLIC_URL Twilio's webhooks answer 503 (the fix in
// the detail), and a request signed for another host is refused whatever Host it sends.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { signTwilio, twilioFormBody } from '../helpers/provider-signing.js';
import { WEBHOOK_ENV } from '../helpers/webhooks.js';

const status = {
  AccountSid: 'AC1',
  MessageSid: 'SMpublicurl1',
  MessageStatus: 'delivered',
  To: '+15551234567',
};

describe('the URL Twilio signatures are checked against', () => {
  let db: TestDatabase;
  let configured: TestApp;
  let unconfigured: TestApp;
  beforeAll(async () => {
    db = await createTestDatabase();
    configured = await buildTestApp(db, WEBHOOK_ENV);
    const { CAREBOOK_PUBLIC_URL: _, ...withoutPublicUrl } = WEBHOOK_ENV;
    unconfigured = await buildTestApp(db, withoutPublicUrl);
  });
  afterAll(async () => {
    await configured?.close();
    await unconfigured?.close();
    await db?.drop();
  });

  const deliver = (app: TestApp, signedFor: string, host: string, params = status) =>
    app.app.inject({
      method: 'POST',
      url: '/webhooks/twilio',
      headers: {
        host,
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': signTwilio(signedFor, params, WEBHOOK_ENV.TWILIO_AUTH_TOKEN).signature,
      },
      payload: twilioFormBody(params),
    });
  const stored = async (sid: string) =>
    (
      await sql<{ n: number }>(
        db.pool,
        'SELECT count(*)::int AS n FROM webhook_events WHERE event_id LIKE $1',
        [`${sid}%`],
      )
    )[0]?.n;

  it('refuses a request signed for the host it names in Host, and accepts the public URL', async () => {
    const spoofed = await deliver(configured, 'http://staging.example/webhooks/twilio', 'staging.example');
    expect(spoofed.statusCode).toBe(401);
    expect(await stored('SMpublicurl1')).toBe(0);
    const genuine = await deliver(
      configured,
      `${WEBHOOK_ENV.CAREBOOK_PUBLIC_URL}/webhooks/twilio`,
      'staging.example', // whatever Host a proxy passes on
    );
    expect(genuine.statusCode).toBe(200);
    expect(await stored('SMpublicurl1')).toBe(1);
  });

  it('answers 503 provider_not_configured without CAREBOOK_PUBLIC_URL, storing nothing', async () => {
    const params = { ...status, MessageSid: 'SMpublicurl2' };
    const response = await deliver(
      unconfigured,
      'http://staging.example/webhooks/twilio',
      'staging.example',
      params,
    );
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({ code: 'provider_not_configured' });
    expect(await stored('SMpublicurl2')).toBe(0);
  });
});
