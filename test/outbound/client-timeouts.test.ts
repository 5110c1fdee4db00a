// A third of the lease is the provider clients' timeout (outboxQueueKinds), and it is fractional
// for most leases: 5 s, the smallest CAREBOOK_WORKER_LEASE_SECONDS, gives 1666.67 ms. Each client
// must still time out on it (AbortSignal.timeout throws on a fractional delay; stripe-node swaps
// one for its 80 s default). Found by test/outbound/faults.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DailyClient } from '../../src/outbound/clients/daily.js';
import { StripeClient } from '../../src/outbound/clients/stripe.js';
import { TwilioClient } from '../../src/outbound/clients/twilio.js';
import { WhatsAppClient } from '../../src/outbound/clients/whatsapp.js';
import { failure } from '../helpers/outbound.js';
import { type OutboundFakes, startOutboundFakes } from '../helpers/outbox.js';

const THIRD_OF_A_5_SECOND_LEASE = 5000 / 3;
const HANG = { kind: 'hang' } as const;

describe('provider clients with a fractional timeout', () => {
  let fakes: OutboundFakes;
  let env: Record<string, string>;
  beforeAll(async () => {
    ({ fakes, env } = await startOutboundFakes());
  });
  afterAll(async () => {
    await fakes?.stop();
  });
  const timeoutMs = THIRD_OF_A_5_SECOND_LEASE;

  it('Stripe times out on it, not after the SDK default', { timeout: 10_000 }, async () => {
    const stripe = new StripeClient({
      secretKey: env.STRIPE_SECRET_KEY!,
      apiBase: env.STRIPE_API_BASE!,
      timeoutMs,
    });
    fakes.stripe.inject('POST /v1/payment_intents', HANG);
    const call = stripe.createPaymentIntent({
      idempotencyKey: 'payment:timeout-test:v1',
      amountCents: 1000,
      currency: 'usd',
      paymentId: 'timeout-test',
      appointmentId: 'timeout-test',
    });
    expect(await failure(call)).toMatchObject({ classification: 'retryable', reason: 'timeout' });
  });

  it('Daily, Twilio and WhatsApp send, and time out on it', async () => {
    const daily = new DailyClient({ apiKey: env.DAILY_API_KEY!, apiBase: env.DAILY_API_BASE!, timeoutMs });
    const twilio = new TwilioClient({
      accountSid: env.TWILIO_ACCOUNT_SID!,
      authToken: env.TWILIO_AUTH_TOKEN!,
      sender: { messagingServiceSid: env.TWILIO_MESSAGING_SERVICE_SID! },
      apiBase: env.TWILIO_API_BASE!,
      timeoutMs,
    });
    const whatsapp = new WhatsAppClient({
      accessToken: env.WHATSAPP_ACCESS_TOKEN!,
      phoneNumberId: env.WHATSAPP_PHONE_NUMBER_ID!,
      apiBase: env.WHATSAPP_API_BASE!,
      timeoutMs,
    });
    const now = Math.floor(Date.now() / 1000);
    const room = (name: string) => daily.createPrivateRoom(name, { nbf: now, exp: now + 3600 });
    const sms = () =>
      twilio.sendSms({
        to: '+15550100999',
        body: 'hello',
        statusCallbackUrl: null,
        validityPeriodSeconds: 600,
      });
    const chat = () =>
      whatsapp.sendTemplate({
        to: '+15550100999',
        templateName: 'carebook_confirmation',
        languageCode: 'en',
        components: [],
        callbackData: 'outbox:timeout-test',
      });
    expect((await room('timeout-test-sent')).adopted).toBe(false);
    expect(await sms()).toMatchObject({ sid: expect.stringMatching(/^SM/) });
    expect(await chat()).toMatchObject({ messageId: expect.stringMatching(/^wamid\./) });

    fakes.daily.inject('POST /v1/rooms', HANG);
    fakes.twilio.inject('POST /2010-04-01/Accounts/:accountSid/Messages.json', HANG);
    fakes.whatsapp.inject('POST /v21.0/:phoneNumberId/messages', HANG);
    const failures = await Promise.all([failure(room('timeout-test-hung')), failure(sms()), failure(chat())]);
    expect(failures.map((error) => error.reason)).toEqual(['timeout', 'timeout', 'timeout']);
  });
});
