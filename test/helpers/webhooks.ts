// Fake providers: deliver genuinely signed webhook requests to an app, the way Stripe, Twilio,
// Meta and Daily do, and build the event bodies our handlers act on.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { signDaily, signStripe, signTwilio, signWhatsApp, twilioFormBody } from './provider-signing.js';

/** The secrets the test app is configured with (the providers.md vectors' secrets among them). */
export const WEBHOOK_ENV = {
  STRIPE_WEBHOOK_SECRET: 'whsec_test_clinic_vector_0001,whsec_rotated_in_0002',
  TWILIO_AUTH_TOKEN: 'test_auth_token_0123456789abcdef',
  WHATSAPP_APP_SECRET: '0123456789abcdef0123456789abcdef',
  WHATSAPP_VERIFY_TOKEN: 'meta-verify-token',
  DAILY_WEBHOOK_SECRET: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=',
  CAREBOOK_PUBLIC_URL: 'https://api.clinic.example',
};
export const STRIPE_SECRET = 'whsec_test_clinic_vector_0001';
export const TWILIO_TOKEN = WEBHOOK_ENV.TWILIO_AUTH_TOKEN;
export const WHATSAPP_SECRET = WEBHOOK_ENV.WHATSAPP_APP_SECRET;
export const DAILY_SECRET = WEBHOOK_ENV.DAILY_WEBHOOK_SECRET;

const now = () => Math.floor(Date.now() / 1000);

export function stripeEvent(
  type: string,
  object: Record<string, unknown>,
  id = `evt_${randomUUID().replaceAll('-', '')}`,
) {
  return JSON.stringify({ id, object: 'event', type, created: now(), livemode: false, data: { object } });
}

export function paymentIntent(
  paymentId: string | null,
  intentId = `pi_${randomUUID().replaceAll('-', '').slice(0, 24)}`,
) {
  return {
    id: intentId,
    object: 'payment_intent',
    amount: 5000,
    currency: 'usd',
    metadata: paymentId ? { carebook_payment_id: paymentId } : {},
  };
}

export function sendStripe(
  app: FastifyInstance,
  body: string,
  options: { secret?: string; timestamp?: number; path?: string } = {},
) {
  return app.inject({
    method: 'POST',
    url: options.path ?? '/webhooks/stripe',
    headers: {
      'content-type': 'application/json',
      'stripe-signature': signStripe(body, options.secret ?? STRIPE_SECRET, options.timestamp ?? now()),
    },
    payload: body,
  });
}

export function sendTwilio(
  app: FastifyInstance,
  params: Record<string, string>,
  options: { token?: string; path?: string } = {},
) {
  const path = options.path ?? '/webhooks/twilio';
  const signed = signTwilio(
    `${WEBHOOK_ENV.CAREBOOK_PUBLIC_URL}${path}`,
    params,
    options.token ?? TWILIO_TOKEN,
  );
  return app.inject({
    method: 'POST',
    url: path,
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signed.signature },
    payload: twilioFormBody(params),
  });
}

export function whatsappBody(value: Record<string, unknown>) {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { phone_number_id: '106540352242922' },
              ...value,
            },
          },
        ],
      },
    ],
  });
}

export function sendWhatsApp(app: FastifyInstance, body: string, options: { secret?: string } = {}) {
  return app.inject({
    method: 'POST',
    url: '/webhooks/whatsapp',
    headers: {
      'content-type': 'application/json',
      'x-hub-signature-256': signWhatsApp(body, options.secret ?? WHATSAPP_SECRET),
    },
    payload: body,
  });
}

export function dailyEvent(type: string, payload: Record<string, unknown>, id = `daily-${randomUUID()}`) {
  return JSON.stringify({ version: '1.0.0', type, id, payload, event_ts: now() });
}

export function sendDaily(
  app: FastifyInstance,
  body: string,
  options: { secret?: string; timestamp?: string; path?: string } = {},
) {
  const timestamp = options.timestamp ?? String(now());
  return app.inject({
    method: 'POST',
    url: options.path ?? '/webhooks/daily',
    headers: {
      'content-type': 'application/json',
      'x-webhook-timestamp': timestamp,
      'x-webhook-signature': signDaily(body, options.secret ?? DAILY_SECRET, timestamp),
    },
    payload: body,
  });
}
