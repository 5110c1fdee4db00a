// The acceptance run's fake providers: genuinely signed deliveries from Stripe, Twilio, WhatsApp
// and Daily to a running `carebook serve`, and the checks that each was handled exactly once.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { signToken } from '../src/http/auth.js';
import {
  signDaily,
  signStripe,
  signTwilio,
  signWhatsApp,
  twilioFormBody,
} from '../test/helpers/provider-signing.js';
import { dailyEvent, stripeEvent, whatsappBody } from '../test/helpers/webhooks.js';

export interface Api {
  base: string;
  secret: string;
  admin: string;
  db: pg.Pool;
  secrets: {
    STRIPE_WEBHOOK_SECRET: string;
    TWILIO_AUTH_TOKEN: string;
    WHATSAPP_APP_SECRET: string;
    DAILY_WEBHOOK_SECRET: string;
  };
  raceWinner?: { appointment: { id: string }; payment: { id: string } };
  poisonedId?: string;
  poisonedPaymentId?: string;
}

export type Call = (
  method: string,
  route: string,
  token: string,
  body?: unknown,
  headers?: Record<string, string>,
) => Promise<{ status: number; body: Record<string, unknown> }>;

const now = () => Math.floor(Date.now() / 1000);

export function deliveries(
  api: Api,
  call: Call,
  setup: {
    clinicId: string;
    clinicAdmin: string;
    doctorId: string;
    /** Outbound Stripe is live: makes it refuse the next PaymentIntent, so that one stays unknown. */
    refuseNextPaymentIntent?: () => void;
  },
) {
  const post = async (route: string, body: string, headers: Record<string, string>) => {
    const response = await fetch(`${api.base}${route}`, { method: 'POST', headers, body });
    if (response.status !== 200)
      throw new Error(`${route} answered ${response.status}: ${await response.text()}`);
  };
  const stripe = (
    type: string,
    object: Record<string, unknown>,
    id = `evt_${randomUUID().replaceAll('-', '')}`,
  ) => {
    const body = stripeEvent(type, object, id);
    return {
      id,
      send: () =>
        post('/webhooks/stripe', body, {
          'content-type': 'application/json',
          'stripe-signature': signStripe(body, api.secrets.STRIPE_WEBHOOK_SECRET, now()),
        }),
    };
  };
  const twilio = (params: Record<string, string>) => {
    const signed = signTwilio(`${api.base}/webhooks/twilio`, params, api.secrets.TWILIO_AUTH_TOKEN);
    return post('/webhooks/twilio', twilioFormBody(params), {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': signed.signature,
    });
  };
  const whatsapp = (value: Record<string, unknown>) => {
    const body = whatsappBody(value);
    return post('/webhooks/whatsapp', body, {
      'content-type': 'application/json',
      'x-hub-signature-256': signWhatsApp(body, api.secrets.WHATSAPP_APP_SECRET),
    });
  };
  const daily = (type: string, payload: Record<string, unknown>) => {
    const body = dailyEvent(type, payload);
    const timestamp = String(now());
    return post('/webhooks/daily', body, {
      'content-type': 'application/json',
      'x-webhook-timestamp': timestamp,
      'x-webhook-signature': signDaily(body, api.secrets.DAILY_WEBHOOK_SECRET, timestamp),
    });
  };
  const rows = async (sql: string, values: unknown[] = []) => (await api.db.query(sql, values)).rows;
  const eventState = async (eventId: string) =>
    rows('SELECT status, note FROM webhook_events WHERE event_id = $1', [eventId]);
  const settled = async (eventIds: string[], status = 'success', timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = await Promise.all(eventIds.map(eventState));
      if (states.every((s) => s.length === 1 && s[0]?.status === status))
        return states.map((s) => s[0]?.note as string);
      if (Date.now() > deadline) throw new Error(`events not ${status}: ${JSON.stringify(states)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const slot = async (options: object) => {
    const startsAt = new Date(Date.now() + (5 + Math.random() * 20) * 86_400_000);
    const response = await call('POST', `/api/clinics/${setup.clinicId}/slots`, setup.clinicAdmin, {
      practitioner_id: setup.doctorId,
      starts_at: startsAt.toISOString(),
      ends_at: new Date(startsAt.getTime() + 1_800_000).toISOString(),
      ...options,
    });
    return (response.body.slots as Array<{ id: string }>)[0]?.id as string;
  };
  const book = async (slotId: string) => {
    const patient = (
      await call('POST', `/api/clinics/${setup.clinicId}/patients`, setup.clinicAdmin, {
        full_name: 'Acceptance Patient',
      })
    ).body.id as string;
    const token = await signToken(api.secret, {
      sub: `p-${patient}`,
      role: 'patient',
      clinic_id: setup.clinicId,
      patient_id: patient,
    });
    const response = await call(
      'POST',
      '/api/appointments',
      token,
      { slot_id: slotId },
      { 'idempotency-key': randomUUID() },
    );
    if (response.status !== 201) throw new Error(`booking answered ${response.status}`);
    return response.body as { appointment: { id: string }; payment: { id: string } | null };
  };

  return {
    async onceEach(): Promise<string> {
      const winner = api.raceWinner;
      if (!winner) throw new Error('no race winner to pay for');
      const paid = stripe('payment_intent.succeeded', {
        id: `pi_${randomUUID().slice(0, 8)}`,
        object: 'payment_intent',
        metadata: { carebook_payment_id: winner.payment.id },
      });
      await paid.send();
      await paid.send();
      await rows(
        `INSERT INTO notifications (clinic_id, channel, provider, provider_message_id) VALUES ($1, 'sms', 'twilio', 'SMacceptance'), ($1, 'whatsapp', 'whatsapp', 'wamid.ACCEPTANCE')`,
        [setup.clinicId],
      );
      await twilio({ MessageSid: 'SMacceptance', MessageStatus: 'delivered', AccountSid: 'AC1' });
      await twilio({ MessageSid: 'SMacceptance', MessageStatus: 'delivered', AccountSid: 'AC1' });
      await whatsapp({
        metadata: { phone_number_id: '1' },
        statuses: [{ id: 'wamid.ACCEPTANCE', status: 'read', timestamp: String(now()) }],
      });
      const video = await book(await slot({ visit_type: 'video' }));
      const room = (
        await rows('SELECT video_room_name AS room FROM appointments WHERE id = $1', [video.appointment.id])
      )[0]?.room as string;
      await daily('meeting.ended', { room, start_ts: now() - 1800, end_ts: now() });
      const dailyEvent = (await rows(`SELECT event_id FROM webhook_events WHERE provider = 'daily'`))[0]
        ?.event_id as string;
      const notes = await settled([paid.id, 'SMacceptance:delivered', 'wamid.ACCEPTANCE:read', dailyEvent]);
      const effects = await rows(
        `SELECT (SELECT count(*)::int FROM webhook_events) AS events,
                (SELECT status FROM payments WHERE id = $1) AS payment,
                (SELECT count(*)::int FROM audit.audit_log WHERE row_id = $1 AND new_values ->> 'status' = 'succeeded') AS payment_transitions,
                (SELECT string_agg(status, ',' ORDER BY provider) FROM notifications
                  WHERE provider_message_id IN ('SMacceptance', 'wamid.ACCEPTANCE')) AS notifications,
                (SELECT status FROM appointments WHERE id = $2) AS video`,
        [winner.payment.id, video.appointment.id],
      );
      const e = effects[0] as Record<string, unknown>;
      if (
        e.events !== 4 ||
        e.payment !== 'succeeded' ||
        e.payment_transitions !== 1 ||
        e.notifications !== 'delivered,read' ||
        e.video !== 'completed'
      ) {
        throw new Error(`unexpected effects ${JSON.stringify(e)}`);
      }
      return `Stripe (sent twice), Twilio (twice), WhatsApp, Daily: 4 rows, 4 × success — ${notes.join('; ')}`;
    },

    async poisoned(): Promise<string> {
      setup.refuseNextPaymentIntent?.();
      const booked = await book(await slot({ price_cents: 2500, currency: 'USD' }));
      if (!booked.payment) throw new Error('no payment for a priced slot');
      const intent = `pi_poison_${randomUUID().slice(0, 8)}`;
      const refund = stripe('charge.refunded', {
        id: `ch_${randomUUID().slice(0, 8)}`,
        object: 'charge',
        payment_intent: intent,
      });
      await refund.send();
      await settled([refund.id], 'dead_letter');
      const [row] = await rows('SELECT id, attempts, error FROM webhook_events WHERE event_id = $1', [
        refund.id,
      ]);
      api.poisonedId = row?.id as string;
      api.poisonedPaymentId = booked.payment.id;
      // What makes it replayable: the PaymentIntent becomes known.
      const paid = stripe('payment_intent.succeeded', {
        id: intent,
        object: 'payment_intent',
        metadata: { carebook_payment_id: booked.payment.id },
      });
      await paid.send();
      await settled([paid.id]);
      return `charge.refunded for an unknown PaymentIntent: dead_letter after ${row?.attempts} attempts (${row?.error})`;
    },
  };
}
