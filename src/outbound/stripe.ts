// Stripe, outbound: the PaymentIntent of every priced booking, its cancellation when the payment
// will not be collected, and refunds — each once, through an Idempotency-Key derived from the
// outbox row (dedupe key and key version) with its frozen amount. A stored failure (Stripe replays
// a 500 for its key) is looked up by metadata before a new key version is tried.
import type { EnvVar } from '../env-vars.js';
import { RetryLaterError } from '../queue/kind.js';
import { ProviderCallError } from './clients/errors.js';
import { type PaymentIntentSummary, StripeClient, type StripeClientOptions } from './clients/stripe.js';
import { CLIENT_TIMEOUT_MS, type Delivery, type Outcome, type Performer } from './outbox.js';
import type { OutboundProvider, Reader } from './provider.js';

export const STRIPE_VARIABLES: readonly EnvVar[] = [
  {
    name: 'STRIPE_SECRET_KEY',
    default: '(unset: no PaymentIntents; their rows wait)',
    description:
      'Stripe secret key (sk_…) for creating, cancelling and refunding PaymentIntents. Unset: those outbox rows stay pending and /readyz says so.',
  },
  {
    name: 'STRIPE_API_BASE',
    default: 'https://api.stripe.com',
    description: "Stripe's API origin (scheme, host, port): a local fake in development and tests.",
  },
];

/** How long a stored failure waits for Stripe's search (up to about a minute behind) before a new key. */
const SEARCH_CATCH_UP_MS = 120_000;

/** Stripe's Idempotency-Key of an outbox row: its effect and key version. */
const idempotencyKeyOf = (row: { dedupeKey: string; keyVersion: number }) =>
  `${row.dedupeKey}:v${row.keyVersion}`;

/** The PaymentIntents Stripe already has for the payment, not cancelled ones first. */
async function existing(client: StripeClient, paymentId: string): Promise<PaymentIntentSummary[]> {
  const found = await client.findPaymentIntents(paymentId);
  return found.sort((a, b) => Number(a.status === 'canceled') - Number(b.status === 'canceled'));
}

/** A stored failure: wait for search to catch up with the first attempt, then move to a new key. */
function storedFailure(error: unknown, delivery: Delivery): unknown {
  if (!(error instanceof ProviderCallError) || error.classification !== 'ambiguous') return error;
  const waited = Date.now() - delivery.firstAttemptAt.getTime();
  return waited < SEARCH_CATCH_UP_MS
    ? new RetryLaterError(
        `${error.message}; looking it up in ${Math.ceil((SEARCH_CATCH_UP_MS - waited) / 1000)} s`,
        60,
      )
    : error;
}

function paymentCreate(client: StripeClient): Performer {
  return {
    kind: 'payment',
    provider: 'stripe',
    settings: { rateLimit: { max: 20, perSeconds: 1 } },
    async perform(delivery) {
      const payment = delivery.payment;
      if (payment === null) return { status: 'cancelled', note: 'the row names no payment' };
      if (
        !['pending', 'failed'].includes(payment.status) ||
        delivery.appointment.status !== 'pending_payment'
      ) {
        return {
          status: 'cancelled',
          note: `not needed: the payment is ${payment.status}, the appointment ${delivery.appointment.status}`,
        };
      }
      // A retry first looks for what an earlier attempt may have made under another key version.
      if (delivery.attempts > 1) {
        const [found] = await existing(client, payment.id);
        if (found)
          return { status: 'succeeded', ref: found.id, note: `PaymentIntent ${found.status} (found)` };
      }
      try {
        const intent = await client.createPaymentIntent({
          idempotencyKey: idempotencyKeyOf(delivery),
          amountCents: Number(delivery.payload.amount_cents),
          currency: String(delivery.payload.currency),
          paymentId: payment.id,
          appointmentId: delivery.appointment.id,
        });
        return { status: 'succeeded', ref: intent.id, note: `PaymentIntent ${intent.status}` };
      } catch (error) {
        throw storedFailure(error, delivery);
      }
    },
  };
}

function paymentCancel(client: StripeClient): Performer {
  return {
    kind: 'payment_cancel',
    provider: 'stripe',
    settings: { rateLimit: { max: 20, perSeconds: 1 } },
    async perform(delivery): Promise<Outcome> {
      const payment = delivery.payment;
      if (payment === null) return { status: 'cancelled', note: 'the row names no payment' };
      if (['in_flight', 'needs_reconcile', 'pending'].includes(delivery.paymentCreateStatus ?? '')) {
        throw new RetryLaterError('waiting for the PaymentIntent to be created first', 15);
      }
      const ids = payment.providerPaymentId
        ? [payment.providerPaymentId]
        : (await existing(client, payment.id)).filter((i) => i.status !== 'canceled').map((i) => i.id);
      if (ids.length === 0)
        return { status: 'succeeded', note: 'nothing to cancel: no PaymentIntent exists' };
      const reason = delivery.payload.reason === 'abandoned' ? 'abandoned' : 'requested_by_customer';
      const notes: string[] = [];
      for (const [index, id] of ids.entries()) {
        try {
          const intent = await client.cancelPaymentIntent(
            id,
            reason,
            `${idempotencyKeyOf(delivery)}:${index}`,
          );
          notes.push(`${id} ${intent.status}`);
        } catch (error) {
          // Paid in the race: its payment_intent.succeeded event marks the payment refund_required
          // (the appointment is no longer active), and the refund follows.
          if (error instanceof ProviderCallError && error.reason === 'unexpected_state') {
            notes.push(`${id} was paid before the cancel: refunded through its succeeded event`);
          } else throw error;
        }
      }
      return { status: 'succeeded', ref: ids[0], note: notes.join('; ') };
    },
  };
}

function refund(client: StripeClient): Performer {
  return {
    kind: 'refund',
    provider: 'stripe',
    settings: { rateLimit: { max: 20, perSeconds: 1 } },
    async perform(delivery) {
      const payment = delivery.payment;
      if (payment === null) return { status: 'cancelled', note: 'the row names no payment' };
      if (payment.status === 'refunded') return { status: 'succeeded', note: 'already refunded' };
      const intent =
        payment.providerPaymentId ??
        (await existing(client, payment.id)).find((i) => i.status === 'succeeded')?.id ??
        null;
      if (intent === null) throw new RetryLaterError('the paid PaymentIntent is not known yet', 60);
      try {
        const made = await client.createRefund({
          idempotencyKey: idempotencyKeyOf(delivery),
          paymentIntentId: intent,
          paymentId: payment.id,
          reason: 'requested_by_customer',
        });
        return { status: 'succeeded', ref: made.id, note: `refund ${made.status}` };
      } catch (error) {
        if (error instanceof ProviderCallError && error.providerCode === 'charge_already_refunded') {
          return { status: 'succeeded', note: 'already refunded at Stripe' };
        }
        throw storedFailure(error, delivery);
      }
    },
  };
}

export const stripeOutbound: OutboundProvider<StripeClientOptions> = {
  name: 'stripe',
  delivers: ['payment', 'payment_cancel', 'refund'],
  variables: STRIPE_VARIABLES,
  read(env: Reader) {
    const secretKey = env.read('STRIPE_SECRET_KEY');
    const apiBase = env.origin('STRIPE_API_BASE', 'https://api.stripe.com');
    return secretKey === undefined ? null : { secretKey, apiBase, timeoutMs: CLIENT_TIMEOUT_MS };
  },
  performers(options) {
    const client = new StripeClient(options);
    return [paymentCreate(client), paymentCancel(client), refund(client)];
  },
  services(options) {
    const client = new StripeClient(options);
    return {
      checkout: {
        async clientSecret(input) {
          // Not created yet: create it now, exactly as the worker will (its retry then replays this).
          const intentId =
            input.intentId ??
            (
              await client.createPaymentIntent({
                idempotencyKey: idempotencyKeyOf(input),
                amountCents: input.amountCents,
                currency: input.currency,
                paymentId: input.paymentId,
                appointmentId: input.appointmentId,
              })
            ).id;
          const intent = await client.retrievePaymentIntent(intentId);
          return { intentId, clientSecret: intent.clientSecret };
        },
      },
    };
  },
};
