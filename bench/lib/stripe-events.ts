// Genuinely signed Stripe deliveries for the ingestion benchmark: a realistic event body (about a
// kilobyte, like a payment_intent.succeeded) with a fresh id each, and the `Stripe-Signature`
// header Stripe would send (signed by the fake provider the tests use, written apart from
// src/webhooks/providers).
import { randomUUID } from 'node:crypto';
import { signStripe } from '../../test/helpers/provider-signing.js';

export interface SignedDelivery {
  body: string;
  headers: Record<string, string>;
}

/** A payment_intent.succeeded event with the given id, signed with `secret` as of now. */
export function signedStripeEvent(id: string, secret: string): SignedDelivery {
  const created = Math.floor(Date.now() / 1000);
  const intent = `pi_${randomUUID().replaceAll('-', '').slice(0, 24)}`;
  const body = JSON.stringify({
    id,
    object: 'event',
    api_version: '2024-06-20',
    created,
    data: {
      object: {
        id: intent,
        object: 'payment_intent',
        amount: 5000,
        amount_capturable: 0,
        amount_received: 5000,
        capture_method: 'automatic_async',
        client_secret: `${intent}_secret_${randomUUID().replaceAll('-', '')}`,
        confirmation_method: 'automatic',
        created,
        currency: 'usd',
        customer: null,
        description: 'Carebook appointment',
        latest_charge: `ch_${randomUUID().replaceAll('-', '').slice(0, 24)}`,
        livemode: false,
        metadata: { carebook_payment_id: randomUUID() },
        payment_method: `pm_${randomUUID().replaceAll('-', '').slice(0, 24)}`,
        payment_method_types: ['card'],
        status: 'succeeded',
      },
    },
    livemode: false,
    pending_webhooks: 1,
    request: { id: `req_${randomUUID().replaceAll('-', '').slice(0, 14)}`, idempotency_key: randomUUID() },
    type: 'payment_intent.succeeded',
  });
  return {
    body,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'stripe-signature': signStripe(body, secret, created),
      'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
    },
  };
}
