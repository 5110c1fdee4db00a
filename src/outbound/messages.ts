// Appointment messages — confirmation, reminder, reschedule, cancellation — by the patient's
// channel (SMS by default, WhatsApp when chosen and configured). Each send re-checks current data:
// the appointment still in the state the message is about, a phone number, consent (STOP). What
// is sent is fixed at the first attempt (the channel, recipient and text), so that a send whose
// outcome is unknown can be recognised: neither provider deduplicates, so such a row becomes
// needs_reconcile and the next attempt looks the message up before it would send again.
import { RetryLaterError } from '../queue/kind.js';
import { ProviderCallError } from './clients/errors.js';
import type { Delivery, Outcome, Performer } from './outbox.js';

export const CHANNELS = ['sms', 'whatsapp'] as const;
export type Channel = (typeof CHANNELS)[number];

/** What a message says, before a channel shapes it (an SMS body, a template's parameters). */
export interface MessageText {
  purpose: string;
  clinic: string;
  /** The appointment's start in the clinic's zone, e.g. "Tue 8 Dec, 14:30". */
  when: string;
  body: string;
}

export interface MessageSender {
  channel: Channel;
  provider: string;
  /** What to fix at the first attempt for this recipient and text (merged into the row's payload). */
  compose(delivery: Delivery, text: MessageText): Record<string, unknown>;
  /** Sends what was composed; resolves to the provider's message id. */
  send(delivery: Delivery, signal: AbortSignal): Promise<string>;
  /**
   * After an attempt whose outcome is unknown: the message's id if it went, null if it surely did
   * not (send it), 'wait' when that cannot be known yet.
   */
  reconcile(delivery: Delivery, signal: AbortSignal): Promise<string | null | 'wait'>;
}

const SENTENCES: Record<string, (when: string) => string> = {
  confirmation: (when) => `your visit on ${when} is confirmed. Reply C to cancel.`,
  reminder: (when) => `reminder: your visit is on ${when}. Reply C to cancel, STOP to stop these messages.`,
  reschedule: (when) => `your visit has moved to ${when}. Reply C to cancel.`,
  cancellation: (when) => `your visit on ${when} is cancelled.`,
};

export function messageText(delivery: Delivery): MessageText {
  const when = new Intl.DateTimeFormat('en-GB', {
    timeZone: delivery.clinic.timezone,
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    hour: '2-digit',
    minute: '2-digit',
  }).format(delivery.appointment.startsAt);
  const sentence = SENTENCES[delivery.purpose] ?? SENTENCES.confirmation!;
  return {
    purpose: delivery.purpose,
    clinic: delivery.clinic.name,
    when,
    body: `${delivery.clinic.name}: ${sentence(when)}`,
  };
}

/** The appointment state each purpose is about; anything else and the message is no longer wanted. */
function stillWanted(delivery: Delivery): Outcome | 'wait' | null {
  const { status } = delivery.appointment;
  if (delivery.purpose === 'cancellation') {
    return status === 'cancelled'
      ? null
      : { status: 'cancelled', note: `not sent: the appointment is ${status}` };
  }
  if (status === 'pending_payment' && delivery.purpose === 'reminder') return 'wait';
  return status === 'confirmed'
    ? null
    : { status: 'cancelled', note: `not sent: the appointment is ${status}` };
}

export function messagePerformer(senders: readonly MessageSender[]): Performer {
  const byChannel = new Map(senders.map((sender) => [sender.channel, sender]));
  const fallback = byChannel.get('sms') ?? senders[0];
  return {
    kind: 'message',
    provider: senders.map((sender) => sender.provider).join('+'),
    settings: { batchSize: 20, rateLimit: { max: 10, perSeconds: 1 } },
    freeze(delivery) {
      if (typeof delivery.payload.channel === 'string' || delivery.patient.phone === null) return null;
      const sender = byChannel.get(delivery.patient.channel as Channel) ?? fallback;
      if (sender === undefined) return null;
      return {
        channel: sender.channel,
        provider: sender.provider,
        to: delivery.patient.phone,
        ...sender.compose(delivery, messageText(delivery)),
      };
    },
    async perform(delivery, signal) {
      const sender = byChannel.get(delivery.payload.channel as Channel);
      const wanted = stillWanted(delivery);
      // A send whose outcome is unknown is looked up first, even when the message is no longer
      // wanted (the visit was cancelled meanwhile): one that went is recorded as sent.
      if (sender !== undefined && (delivery.status === 'needs_reconcile' || delivery.providerRef !== null)) {
        const found = delivery.providerRef ?? (await sender.reconcile(delivery, signal));
        if (found === 'wait') throw new RetryLaterError('the outcome of the last send is not known yet', 60);
        if (found !== null)
          return { status: 'succeeded', ref: found, note: 'found sent by a lookup: not sent again' };
      }
      if (wanted === 'wait') throw new RetryLaterError('the appointment is not paid yet', 60);
      if (wanted !== null) return wanted;
      if (delivery.patient.phone === null)
        return { status: 'cancelled', note: 'not sent: the patient has no phone number' };
      if (delivery.patient.optedOut)
        return { status: 'cancelled', note: 'not sent: the number opted out (STOP)' };
      if (sender === undefined)
        throw new RetryLaterError(`${String(delivery.payload.channel)} is not configured`, 300);
      try {
        const id = await sender.send(delivery, signal);
        return { status: 'succeeded', ref: id, note: `sent by ${sender.channel}` };
      } catch (error) {
        if (error instanceof ProviderCallError && error.reason === 'opted_out') {
          return {
            status: 'cancelled',
            note: `not sent: the provider says the number unsubscribed (${error.providerCode})`,
            payload: { opted_out_code: error.providerCode ?? 'unknown' },
          };
        }
        throw error;
      }
    },
  };
}
