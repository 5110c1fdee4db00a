// Which handler an event gets. Types without a handler are settled as success with an "ignored"
// note — providers send many event types we do not need, and none of them is an error.
import { UNPARSEABLE } from '../ingest.js';
import { meetingEnded, meetingStarted } from './daily.js';
import { twilioInbound, twilioStatus, whatsappInbound, whatsappStatus } from './messaging.js';
import { chargeRefunded, paymentIntentFailed, paymentIntentSucceeded } from './stripe.js';
import { type ClaimedEvent, type Handler, PermanentEventError } from './types.js';

const HANDLERS: Record<string, Handler> = {
  'stripe:payment_intent.succeeded': paymentIntentSucceeded,
  'stripe:payment_intent.payment_failed': paymentIntentFailed,
  'stripe:charge.refunded': chargeRefunded,
  'twilio:message.status': twilioStatus,
  'twilio:message.inbound': twilioInbound,
  'whatsapp:message.status': whatsappStatus,
  'whatsapp:message.inbound': whatsappInbound,
  'daily:meeting.started': meetingStarted,
  'daily:meeting.ended': meetingEnded,
};

const unparseable: Handler = async (_client, event) => {
  throw new PermanentEventError(
    `the provider's body could not be read: ${String(event.payload.error ?? 'unknown')}`,
  );
};

/** The handler for an event, or null when the type is one we ignore. */
export function handlerFor(event: Pick<ClaimedEvent, 'provider' | 'eventType'>): Handler | null {
  if (event.eventType === UNPARSEABLE) return unparseable;
  return HANDLERS[`${event.provider}:${event.eventType}`] ?? null;
}

export { type ClaimedEvent, type Handler, PermanentEventError } from './types.js';
