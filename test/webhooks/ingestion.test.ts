// Contract tests of ingestion, per provider, through the HTTP app: a genuinely signed delivery is
// stored once (200); a tampered body, a wrong secret, a stale timestamp or a missing header is 401
// with nothing stored; the same event twice, or 20 times at once, is one row.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, metricsOf, type TestApp } from '../helpers/app.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { signStripe, signTwilio } from '../helpers/provider-signing.js';
import {
  dailyEvent,
  paymentIntent,
  STRIPE_SECRET,
  sendDaily,
  sendStripe,
  sendTwilio,
  sendWhatsApp,
  stripeEvent,
  WEBHOOK_ENV,
  whatsappBody,
} from '../helpers/webhooks.js';

describe('webhook ingestion', () => {
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

  const rows = async (eventId?: string) =>
    (
      await sql<{ n: number }>(
        db.pool,
        'SELECT count(*)::int AS n FROM webhook_events WHERE $1::text IS NULL OR event_id = $1',
        [eventId ?? null],
      )
    )[0]?.n;
  const problem = (response: { statusCode: number; json(): unknown }) => ({
    status: response.statusCode,
    ...(response.json() as object),
  });

  describe('Stripe', () => {
    it('stores a signed event once, keeping raw bytes and the signature header', async () => {
      const body = stripeEvent('payment_intent.succeeded', paymentIntent(null), 'evt_stored_once');
      const response = await sendStripe(t.app, body);
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ received: 1, duplicates: 0 });
      const [row] = await sql<{
        provider: string;
        event_type: string;
        status: string;
        raw: string;
        header: string;
      }>(
        db.pool,
        `SELECT e.provider, e.event_type, e.status, convert_from(r.raw_body, 'UTF8') AS raw,
                r.signed_headers ->> 'stripe-signature' AS header
           FROM webhook_events e JOIN webhook_requests r ON r.id = e.request_id WHERE e.event_id = 'evt_stored_once'`,
      );
      expect(row).toMatchObject({
        provider: 'stripe',
        event_type: 'payment_intent.succeeded',
        status: 'pending',
        raw: body,
      });
      expect(row?.header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    });

    it('accepts the secret being rotated in (any configured secret)', async () => {
      const body = stripeEvent('charge.captured', {}, 'evt_rotated');
      expect((await sendStripe(t.app, body, { secret: 'whsec_rotated_in_0002' })).statusCode).toBe(200);
    });

    it('refuses tampering, a wrong secret, a stale or future timestamp and a missing header — storing nothing', async () => {
      const before = await rows();
      const body = stripeEvent('payment_intent.succeeded', paymentIntent(null), 'evt_refused');
      const signature = signStripe(body, STRIPE_SECRET, Math.floor(Date.now() / 1000));
      const tampered = await t.app.inject({
        method: 'POST',
        url: '/webhooks/stripe',
        headers: { 'content-type': 'application/json', 'stripe-signature': signature },
        payload: body.replace('"amount":5000', '"amount":1'),
      });
      expect(problem(tampered)).toMatchObject({
        status: 401,
        code: 'invalid_signature',
        detail: 'bad_signature',
      });
      expect(problem(await sendStripe(t.app, body, { secret: 'whsec_wrong' }))).toMatchObject({
        detail: 'bad_signature',
      });
      expect(
        problem(await sendStripe(t.app, body, { timestamp: Math.floor(Date.now() / 1000) - 301 })),
      ).toMatchObject({ detail: 'stale_timestamp' });
      expect(
        problem(await sendStripe(t.app, body, { timestamp: Math.floor(Date.now() / 1000) + 301 })),
      ).toMatchObject({ detail: 'stale_timestamp' });
      const missing = await t.app.inject({
        method: 'POST',
        url: '/webhooks/stripe',
        headers: { 'content-type': 'application/json' },
        payload: body,
      });
      expect(problem(missing)).toMatchObject({ status: 401, detail: 'missing_signature' });
      expect(await rows()).toBe(before);
      const metrics = await metricsOf(t.app);
      expect(metrics).toContain('webhook_received_total{provider="stripe",outcome="bad_signature"} 2');
      expect(metrics).toContain('webhook_received_total{provider="stripe",outcome="stale_timestamp"} 2');
      expect(metrics).toContain('webhook_received_total{provider="stripe",outcome="missing_signature"} 1');
    });

    it('stores an event delivered twice, and 20 times at once, as one row', async () => {
      const body = stripeEvent('payment_intent.created', paymentIntent(null), 'evt_duplicated');
      const first = await sendStripe(t.app, body);
      const second = await sendStripe(t.app, body);
      expect(first.json()).toEqual({ received: 1, duplicates: 0 });
      expect(second.json()).toEqual({ received: 0, duplicates: 1 });
      const burst = stripeEvent('payment_intent.created', paymentIntent(null), 'evt_burst');
      const responses = await Promise.all(Array.from({ length: 20 }, () => sendStripe(t.app, burst)));
      expect(responses.map((r) => r.statusCode)).toEqual(Array(20).fill(200));
      expect(await rows('evt_burst')).toBe(1);
    });
  });

  describe('Twilio', () => {
    const status = {
      AccountSid: 'AC1',
      MessageSid: 'SMtwilio1',
      MessageStatus: 'delivered',
      To: '+15551234567',
      From: '+15005550006',
    };

    it('verifies the providers.md vector end to end on a named integration, with its URL and query', async () => {
      await db.pool.query(
        `INSERT INTO integrations (provider, name, secret_ref, platform_wide) VALUES ('twilio', 'sms-status', 'TWILIO_AUTH_TOKEN', true)`,
      );
      const response = await t.app.inject({
        method: 'POST',
        url: '/webhooks/twilio/sms-status?clinic=42',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': '3AxU8KV1jBbUm1kDUIdD1c6aTO0=',
        },
        payload:
          'AccountSid=ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&ApiVersion=2010-04-01&From=%2B15005550006&MessageSid=SMbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb&MessageStatus=delivered&SmsSid=SMbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb&SmsStatus=delivered&To=%2B15551234567',
      });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toContain('text/xml');
      expect(await rows('SMbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb:delivered')).toBe(1);
    });

    it('stores a status callback once; refuses a tampered parameter or another token', async () => {
      expect((await sendTwilio(t.app, status)).statusCode).toBe(200);
      expect((await sendTwilio(t.app, status)).statusCode).toBe(200);
      expect(await rows('SMtwilio1:delivered')).toBe(1);
      const signed = signTwilio(
        `${WEBHOOK_ENV.CAREBOOK_PUBLIC_URL}/webhooks/twilio`,
        status,
        WEBHOOK_ENV.TWILIO_AUTH_TOKEN,
      );
      const tampered = await t.app.inject({
        method: 'POST',
        url: '/webhooks/twilio',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': signed.signature,
        },
        payload: new URLSearchParams({ ...status, MessageStatus: 'read' }).toString(),
      });
      expect(problem(tampered)).toMatchObject({ status: 401, detail: 'bad_signature' });
      expect(
        (await sendTwilio(t.app, { ...status, MessageSid: 'SMother' }, { token: 'not-the-token' }))
          .statusCode,
      ).toBe(401);
      expect(await rows('SMother:delivered')).toBe(0);
    });
  });

  describe('WhatsApp', () => {
    it('verifies the providers.md vector and splits a batch into one row per message and status', async () => {
      const vector =
        '{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"statuses":[{"id":"wamid.TEST0002","status":"delivered","timestamp":"1700000100","recipient_id":"5215512345678"}]},"field":"messages"}]}]}';
      const signed = await t.app.inject({
        method: 'POST',
        url: '/webhooks/whatsapp',
        headers: {
          'content-type': 'application/json',
          'x-hub-signature-256': 'sha256=516796c549b14a6330f368b2faff94e2dd2135684e694298ae890b9820d1bf4d',
        },
        payload: vector,
      });
      expect(signed.json()).toEqual({ received: 1, duplicates: 0 });
      const batch = whatsappBody({
        messages: [
          {
            from: '15550001111',
            id: 'wamid.IN1',
            timestamp: '1700000200',
            type: 'text',
            text: { body: 'hello' },
          },
        ],
        statuses: [
          { id: 'wamid.OUT1', status: 'sent', timestamp: '1700000100' },
          { id: 'wamid.OUT1', status: 'read', timestamp: '1700000300' },
        ],
      });
      expect((await sendWhatsApp(t.app, batch)).json()).toEqual({ received: 3, duplicates: 0 });
      expect((await sendWhatsApp(t.app, batch)).json()).toEqual({ received: 0, duplicates: 3 });
      expect((await sendWhatsApp(t.app, batch, { secret: 'f'.repeat(32) })).statusCode).toBe(401);
    });

    it('answers the subscription handshake with the challenge only for the right token', async () => {
      const ok = await t.app.inject({
        method: 'GET',
        url: '/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=meta-verify-token&hub.challenge=1158201444',
      });
      expect(ok.statusCode).toBe(200);
      expect(ok.body).toBe('1158201444');
      const bad = await t.app.inject({
        method: 'GET',
        url: '/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1',
      });
      expect(bad.statusCode).toBe(403);
    });
  });

  describe('Daily', () => {
    it('stores a signed event, refuses stale ones, and answers the unsigned test ping with no side effect', async () => {
      const before = await rows();
      const ping = await t.app.inject({
        method: 'POST',
        url: '/webhooks/daily',
        headers: { 'content-type': 'application/json' },
        payload: '{"test":"test"}',
      });
      expect(ping.statusCode).toBe(200);
      expect(await rows()).toBe(before);
      const body = dailyEvent(
        'meeting.started',
        { room: 'cb-unknown', start_ts: 1700000000, meeting_id: 'm1' },
        'daily-evt-1',
      );
      expect((await sendDaily(t.app, body)).statusCode).toBe(200);
      expect((await sendDaily(t.app, body, { timestamp: `${Date.now()}` })).statusCode).toBe(200); // milliseconds
      expect(await rows('daily-evt-1')).toBe(1);
      expect(
        problem(await sendDaily(t.app, body, { timestamp: String(Math.floor(Date.now() / 1000) - 600) })),
      ).toMatchObject({
        detail: 'stale_timestamp',
      });
    });
  });

  describe('the endpoint itself', () => {
    it('404 for an unknown provider or account, 413 over 1 MiB, 503 when a provider has no secret', async () => {
      for (const name of ['paypal', 'constructor', 'toString']) {
        expect(
          problem(await t.app.inject({ method: 'POST', url: `/webhooks/${name}`, payload: '{}' })),
          name,
        ).toMatchObject({ status: 404, code: 'unknown_provider' });
      }
      // Only a provider whose descriptor has a handshake answers GET.
      expect(problem(await t.app.inject({ method: 'GET', url: '/webhooks/stripe' }))).toMatchObject({
        status: 405,
        code: 'method_not_allowed',
      });
      expect(
        problem(
          await t.app.inject({ method: 'POST', url: '/webhooks/stripe/no-such-account', payload: '{}' }),
        ),
      ).toMatchObject({
        status: 404,
        code: 'integration_not_found',
      });
      const huge = await sendStripe(
        t.app,
        JSON.stringify({ id: 'evt_huge', type: 'x', padding: 'x'.repeat(1024 * 1024) }),
      );
      expect(huge.statusCode).toBe(413);
      const bare = await buildTestApp(db, {});
      try {
        const response = await sendStripe(
          bare.app,
          stripeEvent('payment_intent.succeeded', paymentIntent(null)),
        );
        expect(problem(response)).toMatchObject({ status: 503, code: 'provider_not_configured' });
        // Daily's endpoint check is answered even before a secret exists (Daily may generate it).
        const ping = await bare.app.inject({
          method: 'POST',
          url: '/webhooks/daily',
          headers: { 'content-type': 'application/json' },
          payload: '{"test":"test"}',
        });
        expect(ping.statusCode).toBe(200);
      } finally {
        await bare.close();
      }
    });

    it('keeps a signed but unreadable body as an event instead of losing it', async () => {
      const response = await sendStripe(t.app, '{"not": "an event"}');
      expect(response.statusCode).toBe(200);
      const [row] = await sql<{ event_type: string }>(
        db.pool,
        `SELECT event_type FROM webhook_events WHERE event_id LIKE 'unparseable:%'`,
      );
      expect(row).toEqual({ event_type: 'unparseable' });
    });
  });
});
