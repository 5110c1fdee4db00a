// The handlers' business effects through the worker, against the real procedures: each provider
// event applied once and in any order (Stripe payments, message statuses and replies, Daily).
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bookAppointment, sweep } from '../../src/booking/service.js';
import { tenantContext } from '../../src/http/auth.js';
import { sql } from '../helpers/db.js';
import { createClinic, createSlot } from '../helpers/fixtures.js';
import {
  dailyEvent,
  paymentIntent,
  sendDaily,
  sendStripe,
  sendTwilio,
  sendWhatsApp,
  stripeEvent,
  whatsappBody,
} from '../helpers/webhooks.js';
import { useWorkerFixture } from '../helpers/worker-fixture.js';

describe('webhook handlers', () => {
  const f = useWorkerFixture();

  it('Stripe payment_intent.succeeded confirms the held appointment once, however often it arrives', async () => {
    const { appointment, payment } = await f.pendingBooking();
    const intent = paymentIntent(payment.id);
    const body = stripeEvent('payment_intent.succeeded', intent, 'evt_paid_1');
    await sendStripe(f.t.app, body);
    await sendStripe(f.t.app, body);
    await sendStripe(f.t.app, stripeEvent('payment_intent.succeeded', intent, 'evt_paid_1_again'));
    await f.worker().drain();
    expect(await f.statusOf(appointment.id)).toEqual({ appointment: 'confirmed', payment: 'succeeded' });
    expect((await f.event('evt_paid_1'))?.note).toBe('payment succeeded, appointment confirmed');
    expect((await f.event('evt_paid_1_again'))?.note).toBe('already settled: payment succeeded');
    const audits = await sql(
      f.db.pool,
      `SELECT 1 FROM audit.audit_log WHERE row_id = $1 AND action = 'update' AND new_values ->> 'status' = 'succeeded'`,
      [payment.id],
    );
    expect(audits).toHaveLength(1);
  });

  it('a failed payment keeps the hold; a later success still confirms', async () => {
    const { appointment, payment } = await f.pendingBooking(1);
    const intent = { ...paymentIntent(payment.id), last_payment_error: { message: 'card declined' } };
    await sendStripe(f.t.app, stripeEvent('payment_intent.payment_failed', intent));
    await f.worker().drain();
    expect(await f.statusOf(appointment.id)).toEqual({ appointment: 'pending_payment', payment: 'failed' });
    await sendStripe(f.t.app, stripeEvent('payment_intent.succeeded', intent));
    await f.worker().drain();
    expect(await f.statusOf(appointment.id)).toEqual({ appointment: 'confirmed', payment: 'succeeded' });
  });

  it('a payment that succeeds after the hold expired is marked refund_required, the slot not re-booked', async () => {
    const { appointment, payment, slot } = await f.pendingBooking(2);
    await f.db.pool.query(
      `UPDATE appointments SET hold_expires_at = now() - interval '1 second' WHERE id = $1`,
      [appointment.id],
    );
    await sweep({ pool: f.db.pool, metrics: f.t.metrics });
    await sendStripe(f.t.app, stripeEvent('payment_intent.succeeded', paymentIntent(payment.id)));
    await f.worker().drain();
    expect(await f.statusOf(appointment.id)).toEqual({ appointment: 'expired', payment: 'refund_required' });
    expect(await sql(f.db.pool, 'SELECT is_available FROM appointment_slots WHERE id = $1', [slot])).toEqual([
      { is_available: true },
    ]);
  });

  it('a partial refund is noted and leaves the payment as it is', async () => {
    const { payment } = await f.pendingBooking(2, { startsInMinutes: 60 * 24 * 45 });
    const intent = paymentIntent(payment.id);
    await sendStripe(f.t.app, stripeEvent('payment_intent.succeeded', intent));
    const partial = {
      id: 'ch_partial',
      object: 'charge',
      payment_intent: intent.id,
      refunded: false,
      amount_refunded: 1000,
    };
    await sendStripe(f.t.app, stripeEvent('charge.refunded', partial, 'evt_partial_refund'));
    await f.worker().drain();
    expect((await f.event('evt_partial_refund'))?.note).toBe(
      'partial refund of 1000 (minor units): payment left as it is',
    );
    expect(await sql(f.db.pool, 'SELECT status FROM payments WHERE id = $1', [payment.id])).toEqual([
      { status: 'succeeded' },
    ]);
  });

  it('delivery statuses never move backwards; history keeps every callback', async () => {
    await f.db.pool.query(
      `INSERT INTO notifications (clinic_id, patient_id, channel, provider, provider_message_id) VALUES ($1, $2, 'sms', 'twilio', 'SMforward')`,
      [f.clinic.clinicId, f.clinic.patientIds[0]],
    );
    for (const status of ['sent', 'read', 'delivered']) {
      await sendTwilio(f.t.app, { MessageSid: 'SMforward', MessageStatus: status, AccountSid: 'AC1' });
      await f.worker().drain();
    }
    const [row] = await sql<{ status: string; history: Array<{ status: string }> }>(
      f.db.pool,
      `SELECT status, status_history AS history FROM notifications WHERE provider_message_id = 'SMforward'`,
    );
    expect(row?.status).toBe('read');
    expect(row?.history.map((entry) => entry.status)).toEqual(['sent', 'read', 'delivered']);
  });

  it('patient replies: C cancels the next appointment, Y confirms, anything else waits for staff', async () => {
    const own = await createClinic(f.db.pool, { patients: 1, phonePrefix: '+1555030' });
    const phone = '+15550300000';
    const first = await f.pendingBooking(0, { startsInMinutes: 60 * 24 * 50 }, own);
    const second = await f.pendingBooking(0, { startsInMinutes: 60 * 24 * 51 }, own);
    const reply = (body: string, sid: string) =>
      sendTwilio(f.t.app, {
        MessageSid: sid,
        From: phone,
        To: '+15550009999',
        Body: body,
        AccountSid: 'AC1',
      });
    await reply('  c ', 'SMreply1');
    await reply('c', 'SMreply1');
    await f.worker().drain();
    expect((await f.statusOf(first.appointment.id))?.appointment).toBe('cancelled');
    expect((await f.statusOf(second.appointment.id))?.appointment).toBe('pending_payment');
    await sendWhatsApp(
      f.t.app,
      whatsappBody({
        messages: [
          {
            from: '15550300000',
            id: 'wamid.Y1',
            timestamp: '1700000000',
            type: 'text',
            text: { body: 'YES' },
          },
        ],
      }),
    );
    await reply('Can I bring my daughter?', 'SMreply3');
    await sendTwilio(f.t.app, {
      MessageSid: 'SMstranger',
      From: '+19999999999',
      Body: 'C',
      AccountSid: 'AC1',
    });
    await f.worker().drain();
    expect(
      await sql(
        f.db.pool,
        'SELECT patient_confirmed_at IS NOT NULL AS confirmed FROM appointments WHERE id = $1',
        [second.appointment.id],
      ),
    ).toEqual([{ confirmed: true }]);
    expect(
      await sql(
        f.db.pool,
        'SELECT provider_message_id, intent, outcome FROM inbound_messages ORDER BY received_at, provider_message_id',
      ),
    ).toEqual(
      expect.arrayContaining([
        { provider_message_id: 'SMreply1', intent: 'cancel', outcome: 'cancelled' },
        { provider_message_id: 'wamid.Y1', intent: 'confirm', outcome: 'confirmed' },
        { provider_message_id: 'SMreply3', intent: 'other', outcome: 'stored_for_staff' },
        { provider_message_id: 'SMstranger', intent: 'cancel', outcome: 'unknown_sender' },
      ]),
    );
  });

  it('Daily: meeting.ended before meeting.started still completes the video appointment', async () => {
    const slot = await createSlot(f.db.pool, f.clinic, { visitType: 'video', startsInMinutes: 60 * 24 * 60 });
    const context = tenantContext({
      sub: 'p2',
      role: 'patient',
      clinicId: f.clinic.clinicId,
      patientId: f.clinic.patientIds[2] ?? null,
    });
    const booked = await bookAppointment(
      { pool: f.db.pool, metrics: f.t.metrics, holdMinutes: 15 },
      context,
      {
        slotId: slot,
        patientId: f.clinic.patientIds[2] ?? '',
        idempotencyKey: randomUUID(),
      },
    );
    const [{ room }] = (await sql<{ room: string }>(
      f.db.pool,
      'SELECT video_room_name AS room FROM appointments WHERE id = $1',
      [booked.body.appointment.id],
    )) as [{ room: string }];
    await sendDaily(f.t.app, dailyEvent('meeting.ended', { room, start_ts: 1700000000, end_ts: 1700001800 }));
    await f.worker().drain();
    await sendDaily(f.t.app, dailyEvent('meeting.started', { room, start_ts: 1700000000 }));
    await f.worker().drain();
    const [row] = await sql(
      f.db.pool,
      'SELECT status, video_started_at, video_ended_at FROM appointments WHERE id = $1',
      [booked.body.appointment.id],
    );
    expect(row).toEqual({
      status: 'completed',
      video_started_at: new Date(1700000000_000),
      video_ended_at: new Date(1700001800_000),
    });
    expect(
      await sql(f.db.pool, 'SELECT appointment_id FROM appointment_slots WHERE id = $1', [slot]),
    ).toEqual([{ appointment_id: null }]);
  });
});
