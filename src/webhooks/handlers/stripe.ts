// Stripe → payments. A PaymentIntent that Carebook created carries metadata.carebook_payment_id;
// a Charge (charge.refunded) is matched by its payment_intent once that is known.
import { isUuid } from '../../db/tenant.js';
import { type ClaimedEvent, field, type Handler, optionalField, PermanentEventError } from './types.js';

/** The event's `data.object` (a PaymentIntent or a Charge). */
function dataObject(event: ClaimedEvent): unknown {
  return (event.payload.data as { object?: unknown } | undefined)?.object;
}

function paymentId(object: unknown): string | null {
  const id = optionalField(object, 'metadata.carebook_payment_id');
  if (id !== null && !isUuid(id)) throw new PermanentEventError('metadata.carebook_payment_id is not a uuid');
  return id;
}

async function apply(
  client: Parameters<Handler>[0],
  event: ClaimedEvent,
  payment: string | null,
  intent: string | null,
  kind: string,
  reason: string | null,
) {
  const result = await client.query<{ note: string }>(
    'SELECT apply_payment_event($1, $2, $3, $4, $5) AS note',
    [event.webhookId, payment, intent, kind, reason],
  );
  return result.rows[0]?.note ?? '';
}

export const paymentIntentSucceeded: Handler = async (client, event) => {
  const intent = dataObject(event);
  const payment = paymentId(intent);
  if (payment === null) return 'ignored: not a Carebook PaymentIntent (no metadata.carebook_payment_id)';
  return apply(client, event, payment, field(intent, 'id'), 'succeeded', null);
};

export const paymentIntentFailed: Handler = async (client, event) => {
  const intent = dataObject(event);
  const payment = paymentId(intent);
  if (payment === null) return 'ignored: not a Carebook PaymentIntent (no metadata.carebook_payment_id)';
  return apply(
    client,
    event,
    payment,
    field(intent, 'id'),
    'failed',
    optionalField(intent, 'last_payment_error.message'),
  );
};

export const chargeRefunded: Handler = async (client, event) => {
  const charge = dataObject(event);
  // Stripe sends charge.refunded for partial refunds too; only a full refund (refunded: true)
  // refunds the payment. A partial one is noted on the event and left to staff.
  if ((charge as { refunded?: unknown } | undefined)?.refunded === false) {
    const refundedCents = Number((charge as { amount_refunded?: unknown }).amount_refunded ?? 0);
    return `partial refund of ${refundedCents} (minor units): payment left as it is`;
  }
  const payment = paymentId(charge);
  // Without metadata the PaymentIntent id must already be known (its succeeded event handled):
  // until then apply_payment_event raises CB101 and the worker retries with backoff.
  return apply(
    client,
    event,
    payment,
    payment === null ? field(charge, 'payment_intent') : optionalField(charge, 'payment_intent'),
    'refunded',
    null,
  );
};
