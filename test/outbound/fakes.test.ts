// The fakes as a set: any subset starts on its own free loopback port and stops cleanly, faults
// are used one per request in order, and the webhooks the fakes send pass our own verifiers
// (src/webhooks/providers), so what the fakes sign is what the ingestion routes accept.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakes } from '../../src/dev/fakes/index.js';
import { DailyClient } from '../../src/outbound/clients/daily.js';
import { StripeClient } from '../../src/outbound/clients/stripe.js';
import { TwilioClient } from '../../src/outbound/clients/twilio.js';
import { WhatsAppClient } from '../../src/outbound/clients/whatsapp.js';
import {
  stripe as stripeScheme,
  twilio as twilioScheme,
  whatsapp as whatsappScheme,
} from '../../src/webhooks/providers/index.js';
import { failure, startWebhookReceiver, type WebhookReceiver } from '../helpers/outbound.js';

const CREDENTIALS = {
  stripe: { secretKey: 'sk_test_fakes_0001' },
  daily: { apiKey: 'daily_fakes_0001' },
  twilio: { accountSid: `AC${'c'.repeat(32)}`, authToken: 'twilio_fakes_token_0001' },
  whatsapp: { accessToken: 'EAAG_fakes_0001', phoneNumberId: '1065400000001' },
};
const SECRETS = { stripe: 'whsec_fakes_0001', whatsapp: 'meta_app_secret_fakes_0001' };

let receiver: WebhookReceiver;
beforeAll(async () => {
  receiver = await startWebhookReceiver();
});
afterAll(() => receiver.close());

describe('starting and stopping', () => {
  it('starts only the providers asked for, each on its own loopback port, and stops them', async () => {
    const fakes = await startFakes({ daily: CREDENTIALS.daily, twilio: CREDENTIALS.twilio });
    expect(Object.keys(fakes.urls).sort()).toEqual(['daily', 'twilio']);
    expect(fakes.urls.daily).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    expect(new URL(fakes.urls.daily).port).not.toBe(new URL(fakes.urls.twilio).port);
    expect('stripe' in fakes).toBe(false);
    const daily = new DailyClient({ ...CREDENTIALS.daily, apiBase: fakes.urls.daily, timeoutMs: 5000 });
    expect(await daily.getRoom('nobody-here')).toBeNull();

    await fakes.stop();
    // Nothing listens any more: the request never left, so even a message would be safe to retry.
    const twilio = new TwilioClient({
      ...CREDENTIALS.twilio,
      sender: { from: '+15005550006' },
      apiBase: fakes.urls.twilio,
      timeoutMs: 5000,
    });
    const error = await failure(
      twilio.sendSms({
        to: '+15551230000',
        body: 'hi',
        statusCallbackUrl: 'http://127.0.0.1/cb',
        validityPeriodSeconds: 60,
      }),
    );
    expect(error).toMatchObject({ classification: 'retryable', reason: 'network' });
  });

  it('uses queued faults one request at a time, in order', async () => {
    const fakes = await startFakes({ daily: CREDENTIALS.daily });
    try {
      const daily = new DailyClient({ ...CREDENTIALS.daily, apiBase: fakes.urls.daily, timeoutMs: 5000 });
      fakes.daily.inject(
        'GET /v1/rooms/:name',
        { kind: 'rate_limit' },
        { kind: 'reject', code: 'server-error' },
      );
      expect((await failure(daily.getRoom('a'))).classification).toBe('rate_limited');
      expect((await failure(daily.getRoom('a'))).reason).toBe('server_error');
      expect(await daily.getRoom('a')).toBeNull();
      expect(fakes.daily.requests('GET /v1/rooms/:name')).toBe(3);
    } finally {
      await fakes.stop();
    }
  });
});

describe('signed webhooks from the fakes', () => {
  it('Stripe: payment_intent.succeeded, signed with the endpoint secret', async () => {
    const fakes = await startFakes({ stripe: CREDENTIALS.stripe });
    try {
      const client = new StripeClient({ ...CREDENTIALS.stripe, apiBase: fakes.urls.stripe, timeoutMs: 5000 });
      const paymentId = randomUUID();
      const created = await client.createPaymentIntent({
        idempotencyKey: `pi-create:${paymentId}:v1`,
        amountCents: 2500,
        currency: 'eur',
        paymentId,
        appointmentId: randomUUID(),
      });
      const { delivery } = await fakes.stripe.succeed(created.id, {
        url: `${receiver.url}/stripe`,
        secret: SECRETS.stripe,
      });
      expect(delivery).toBe(200);
      const request = receiver.received.at(-1)!;
      expect(stripeScheme.verify(request, { secrets: [SECRETS.stripe] })).toEqual({ ok: true });
      expect(stripeScheme.verify(request, { secrets: ['whsec_some_other'] })).toMatchObject({ ok: false });
      const [event] = stripeScheme.parse(request);
      expect(event?.eventType).toBe('payment_intent.succeeded');
      expect(event?.payload).toMatchObject({
        data: {
          object: { id: created.id, status: 'succeeded', metadata: { carebook_payment_id: paymentId } },
        },
      });
      expect(request.body.toString()).not.toContain('_secret_');
      expect((await client.retrievePaymentIntent(created.id)).status).toBe('succeeded');
    } finally {
      await fakes.stop();
    }
  });

  it('Twilio: the status callback, signed over the StatusCallback URL and its parameters', async () => {
    const fakes = await startFakes({ twilio: CREDENTIALS.twilio });
    try {
      const client = new TwilioClient({
        ...CREDENTIALS.twilio,
        sender: { messagingServiceSid: `MG${'d'.repeat(32)}` },
        apiBase: fakes.urls.twilio,
        timeoutMs: 5000,
      });
      const statusCallbackUrl = `${receiver.url}/twilio?outbox_id=7`;
      const sent = await client.sendSms({
        to: '+15551234567',
        body: 'Confirmed',
        statusCallbackUrl,
        validityPeriodSeconds: 600,
      });
      expect(await fakes.twilio.updateStatus(sent.sid, 'delivered')).toBe(200);
      const request = receiver.received.at(-1)!;
      expect(request.url).toBe(statusCallbackUrl);
      expect(twilioScheme.verify(request, { secrets: [CREDENTIALS.twilio.authToken] })).toEqual({ ok: true });
      expect(twilioScheme.parse(request)[0]).toMatchObject({
        eventId: `${sent.sid}:delivered`,
        eventType: 'message.status',
      });
    } finally {
      await fakes.stop();
    }
  });

  it('Twilio: a message is left out of DateSent filters until it was sent', async () => {
    const fakes = await startFakes({ twilio: CREDENTIALS.twilio });
    try {
      const client = new TwilioClient({
        ...CREDENTIALS.twilio,
        sender: { from: '+15005550006' },
        apiBase: fakes.urls.twilio,
        timeoutMs: 5000,
      });
      const sent = await client.sendSms({
        to: '+15559870000',
        body: 'x',
        statusCallbackUrl: `${receiver.url}/t`,
        validityPeriodSeconds: 60,
      });
      const today = new Date().toISOString().slice(0, 10);
      const list = async () => {
        const url = `${fakes.urls.twilio}/2010-04-01/Accounts/${CREDENTIALS.twilio.accountSid}/Messages.json?DateSent>=${today}`;
        const auth = Buffer.from(`${CREDENTIALS.twilio.accountSid}:${CREDENTIALS.twilio.authToken}`).toString(
          'base64',
        );
        const response = await fetch(url, { headers: { authorization: `Basic ${auth}` } });
        return ((await response.json()) as { messages: Array<{ sid: string }> }).messages.map((m) => m.sid);
      };
      expect(await list()).toEqual([]);
      await fakes.twilio.updateStatus(sent.sid, 'sent', { skipCallback: true });
      expect(await list()).toEqual([sent.sid]);
    } finally {
      await fakes.stop();
    }
  });

  it('WhatsApp: the status webhook, signed with the app secret, echoing our callback data', async () => {
    const fakes = await startFakes({ whatsapp: CREDENTIALS.whatsapp });
    try {
      const client = new WhatsAppClient({
        ...CREDENTIALS.whatsapp,
        apiBase: fakes.urls.whatsapp,
        timeoutMs: 5000,
      });
      const sent = await client.sendTemplate({
        to: '+5215512345678',
        templateName: 'appt_confirmation',
        languageCode: 'en',
        callbackData: 'outbox:99',
      });
      const webhook = { url: `${receiver.url}/whatsapp`, appSecret: SECRETS.whatsapp };
      expect(await fakes.whatsapp.sendStatus(sent.messageId, 'delivered', webhook)).toBe(200);
      const request = receiver.received.at(-1)!;
      expect(whatsappScheme.verify(request, { secrets: [SECRETS.whatsapp] })).toEqual({ ok: true });
      const [event] = whatsappScheme.parse(request);
      expect(event?.eventId).toBe(`${sent.messageId}:delivered`);
      expect(JSON.stringify(event?.payload)).toContain('"biz_opaque_callback_data":"outbox:99"');
    } finally {
      await fakes.stop();
    }
  });

  it('never deliver anywhere but this machine', async () => {
    const fakes = await startFakes({ whatsapp: CREDENTIALS.whatsapp });
    try {
      const client = new WhatsAppClient({
        ...CREDENTIALS.whatsapp,
        apiBase: fakes.urls.whatsapp,
        timeoutMs: 5000,
      });
      const sent = await client.sendTemplate({
        to: '15550001111',
        templateName: 't',
        languageCode: 'en',
        callbackData: 'c',
      });
      await expect(
        fakes.whatsapp.sendStatus(sent.messageId, 'read', {
          url: 'https://hooks.example.com/w',
          appSecret: 's',
        }),
      ).rejects.toThrow(/loopback/);
    } finally {
      await fakes.stop();
    }
  });
});
