// The loop book → pay → confirm → remind → visit → reschedule → cancel/refund, through the real API
// and worker against the fake providers: each effect once at the provider.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bearer } from '../helpers/app.js';
import { sql } from '../helpers/db.js';
import { createSlot } from '../helpers/fixtures.js';
import { outboundSuite } from '../helpers/outbound-suite.js';
import { outboxOf } from '../helpers/outbox.js';
import { sendStripe, sendTwilio, stripeEvent } from '../helpers/webhooks.js';

describe('outbound integrations, end to end', () => {
  const s = outboundSuite({ patients: 2, phonePrefix: '+1555030' });

  const phoneOf = async (i: number) =>
    (
      await sql<{ phone: string }>(s.db.pool, 'SELECT phone FROM patients WHERE id = $1', [
        s.clinic.patientIds[i],
      ])
    )[0]!.phone;
  let visit: { appointment: string; payment: string; intent: string };
  const patient = (i = 0) =>
    bearer({
      role: 'patient',
      clinic_id: s.clinic.clinicId,
      patient_id: s.clinic.patientIds[i],
      sub: `patient-${i}`,
    });
  const staff = () => bearer({ role: 'staff', clinic_id: s.clinic.clinicId, sub: s.clinic.practitionerId });
  const book = async (slot: string, who = 0) => {
    const response = await s.t.app.inject({
      method: 'POST',
      url: '/api/appointments',
      headers: { ...(await patient(who)), 'idempotency-key': randomUUID() },
      payload: { slot_id: slot },
    });
    expect(response.statusCode, response.body).toBe(201);
    return response.json() as { appointment: { id: string }; payment: { id: string } | null };
  };

  it('a priced video visit: one PaymentIntent, paid → confirmed, one SMS, one room, reminders; reschedule moves them; cancel refunds', async () => {
    const slot = await createSlot(s.db.pool, s.clinic, {
      priceCents: 4500,
      visitType: 'video',
      startsInMinutes: 3 * 24 * 60,
    });
    const booked = await book(slot);
    const paymentId = booked.payment!.id;
    await s.drain();
    const [intent] = s.fakes.stripe.paymentIntents(paymentId);
    expect(s.fakes.stripe.paymentIntents(paymentId)).toHaveLength(1);
    expect(intent).toMatchObject({ amount: 4500, currency: 'usd' });

    // The patient's browser gets the client_secret, fetched on demand.
    const payment = await s.t.app.inject({
      method: 'GET',
      url: `/api/payments/${paymentId}`,
      headers: await patient(),
    });
    expect(payment.statusCode, payment.body).toBe(200);
    expect(payment.json()).toMatchObject({
      payment_intent_id: intent!.id,
      client_secret: expect.stringMatching(/^pi_.+_secret_/),
    });
    expect(payment.headers['cache-control']).toBe('no-store');

    // The patient pays; Stripe reports it: the appointment is confirmed, then the confirmation and
    // the room go out.
    await s.fakes.stripe.succeed(intent!.id);
    const paid = await sendStripe(
      s.t.app,
      stripeEvent('payment_intent.succeeded', {
        id: intent!.id,
        object: 'payment_intent',
        metadata: { carebook_payment_id: paymentId },
      }),
    );
    expect(paid.statusCode).toBe(200);
    await s.drain();
    expect(s.fakes.twilio.messages({ to: await phoneOf(0) })).toHaveLength(1);
    expect(s.fakes.daily.rooms()).toHaveLength(1);
    const rows = await outboxOf(s.db.pool, booked.appointment.id);
    expect(rows.map((r) => `${r.kind}/${r.purpose}:${r.status}`).sort()).toEqual([
      'message/confirmation:succeeded',
      'message/reminder:pending',
      'message/reminder:pending',
      'payment/payment:succeeded',
      'room/room:succeeded',
    ]);
    visit = { appointment: booked.appointment.id, payment: paymentId, intent: intent!.id };
  });

  it('a reschedule moves the reminders and the room, and tells the patient', async () => {
    const before = { ...s.fakes.daily.rooms()[0]!, config: { ...s.fakes.daily.rooms()[0]!.config } };
    const slot = await createSlot(s.db.pool, s.clinic, {
      priceCents: 4500,
      visitType: 'video',
      startsInMinutes: 5 * 24 * 60,
    });
    const moved = await s.t.app.inject({
      method: 'POST',
      url: `/api/appointments/${visit.appointment}/reschedule`,
      headers: { ...(await patient()), 'idempotency-key': randomUUID() },
      payload: { new_slot_id: slot },
    });
    expect(moved.statusCode, moved.body).toBe(200);
    await s.drain();
    const rows = await outboxOf(s.db.pool, visit.appointment);
    const reminders = rows.filter((r) => r.purpose === 'reminder');
    expect(reminders.map((r) => r.status).sort()).toEqual(['cancelled', 'cancelled', 'pending', 'pending']);
    expect(rows.filter((r) => r.kind === 'room_update').map((r) => r.status)).toEqual(['succeeded']);
    const after = s.fakes.daily.rooms()[0]!;
    expect(s.fakes.daily.rooms()).toHaveLength(1);
    expect(after.name).toBe(before.name);
    expect(Number(after.config.nbf)).toBeGreaterThan(Number(before.config.nbf) + 24 * 3600);
    expect(s.fakes.twilio.messages({ to: await phoneOf(0) }).map((m) => m.body)).toEqual([
      expect.stringContaining('is confirmed'),
      expect.stringContaining('has moved to'),
    ]);
  });

  it('a cancellation by staff refunds the payment, deletes the room, cancels the reminders and says so', async () => {
    const cancelled = await s.t.app.inject({
      method: 'POST',
      url: `/api/appointments/${visit.appointment}/cancel`,
      headers: await staff(),
      payload: { reason: 'the practitioner is ill' },
    });
    expect(cancelled.statusCode, cancelled.body).toBe(200);
    await s.drain();
    expect(s.fakes.stripe.refunds(visit.intent)).toHaveLength(1);
    expect(s.fakes.daily.rooms()).toHaveLength(0);
    const rows = await outboxOf(s.db.pool, visit.appointment);
    expect(rows.filter((r) => r.purpose === 'reminder' && r.status === 'pending')).toEqual([]);
    expect(rows.filter((r) => r.kind === 'refund').map((r) => r.status)).toEqual(['succeeded']);
    expect(s.fakes.twilio.messages({ to: await phoneOf(0) }).at(-1)?.body).toContain('is cancelled');
  });

  it('an unpaid hold that expires cancels its PaymentIntent at Stripe', async () => {
    const slot = await createSlot(s.db.pool, s.clinic, { priceCents: 3000, startsInMinutes: 4 * 24 * 60 });
    const booked = await book(slot, 1);
    await s.drain();
    const [intent] = s.fakes.stripe.paymentIntents(booked.payment!.id);
    expect(intent?.status).toBe('requires_payment_method');
    await s.db.pool.query(
      `UPDATE appointments SET hold_expires_at = now() - interval '1 minute' WHERE id = $1`,
      [booked.appointment.id],
    );
    await s.db.pool.query('SELECT expire_unpaid_holds()');
    await s.drain();
    expect(s.fakes.stripe.paymentIntents(booked.payment!.id)).toEqual([
      expect.objectContaining({ id: intent!.id, status: 'canceled', cancellation_reason: 'abandoned' }),
    ]);
    // Reminders come with the confirmation: a hold that was never paid got none.
    expect((await outboxOf(s.db.pool, booked.appointment.id)).map((r) => `${r.kind}:${r.status}`)).toEqual([
      'payment:succeeded',
      'payment_cancel:succeeded',
    ]);
  });

  it('STOP from a patient: nothing more goes to that number; START opts back in', async () => {
    const phone = await phoneOf(1);
    const stop = await sendTwilio(s.t.app, {
      MessageSid: `SM${randomUUID().replaceAll('-', '')}`,
      From: phone,
      To: '+15550000000',
      Body: 'STOP',
    });
    expect(stop.statusCode).toBe(200);
    await s.drain();
    expect(await sql(s.db.pool, 'SELECT opted_out FROM message_consent WHERE phone = $1', [phone])).toEqual([
      { opted_out: true },
    ]);
    const sentBefore = s.fakes.twilio.messages({ to: phone }).length;
    const free = await book(await createSlot(s.db.pool, s.clinic, { startsInMinutes: 6 * 24 * 60 }), 1);
    await s.drain();
    expect(s.fakes.twilio.messages({ to: phone })).toHaveLength(sentBefore);
    expect(
      (await outboxOf(s.db.pool, free.appointment.id)).find((r) => r.purpose === 'confirmation'),
    ).toMatchObject({
      status: 'cancelled',
      note: 'not sent: the number opted out (STOP)',
    });
    await sendTwilio(s.t.app, {
      MessageSid: `SM${randomUUID().replaceAll('-', '')}`,
      From: phone,
      To: '+15550000000',
      Body: 'START',
    });
    await s.drain();
    expect(await sql(s.db.pool, 'SELECT opted_out FROM message_consent WHERE phone = $1', [phone])).toEqual([
      { opted_out: false },
    ]);
  });

  it('a video visit about to start: the patient and the practitioner get their own tokens, nobody else', async () => {
    const slot = await createSlot(s.db.pool, s.clinic, { visitType: 'video', startsInMinutes: 5 });
    const booked = await book(slot);
    await s.drain();
    const rows = await outboxOf(s.db.pool, booked.appointment.id);
    // Booked five minutes before: both reminders are skipped, and say why.
    expect(rows.filter((r) => r.purpose === 'reminder')).toEqual([
      expect.objectContaining({
        status: 'cancelled',
        note: expect.stringMatching(/^skipped: booked \d+ min before the start/),
      }),
      expect.objectContaining({ status: 'cancelled', note: expect.stringMatching(/^skipped: booked/) }),
    ]);
    const join = (headers: Record<string, string>) =>
      s.t.app.inject({ method: 'GET', url: `/api/appointments/${booked.appointment.id}/video`, headers });
    const asPatient = await join(await patient());
    expect(asPatient.statusCode, asPatient.body).toBe(200);
    expect(asPatient.json()).toMatchObject({
      is_owner: false,
      room_url: expect.stringContaining('daily.co'),
    });
    const asPractitioner = await join(await staff());
    expect(asPractitioner.json()).toMatchObject({ is_owner: true });
    const stranger = await join(await patient(1));
    expect([403, 404]).toContain(stranger.statusCode);
    const issued = s.fakes.daily.tokens();
    expect(issued.map((token) => token.is_owner)).toEqual([false, true]);
  });

  it('a client_secret asked for before the worker ran: the API and the worker make one PaymentIntent', async () => {
    const slot = await createSlot(s.db.pool, s.clinic, {
      priceCents: 2500,
      startsInMinutes: 6 * 24 * 60 + 7 * 60,
    });
    const booked = await book(slot);
    const early = await s.t.app.inject({
      method: 'GET',
      url: `/api/payments/${booked.payment!.id}`,
      headers: await patient(),
    });
    expect(early.statusCode, early.body).toBe(200);
    expect(early.json()).toMatchObject({ client_secret: expect.stringMatching(/^pi_.+_secret_/) });
    await s.drain();
    expect(s.fakes.stripe.paymentIntents(booked.payment!.id)).toHaveLength(1);
  });

  it('a video visit days away: no token yet (video_not_open), and none minted at Daily', async () => {
    const slot = await createSlot(s.db.pool, s.clinic, {
      visitType: 'video',
      startsInMinutes: 2 * 24 * 60 + 11 * 60,
    });
    const booked = await book(slot);
    await s.drain();
    const before = s.fakes.daily.tokens().length;
    const early = await s.t.app.inject({
      method: 'GET',
      url: `/api/appointments/${booked.appointment.id}/video`,
      headers: await patient(),
    });
    expect(early.statusCode, early.body).toBe(409);
    expect(early.json()).toMatchObject({ code: 'video_not_open' });
    expect(s.fakes.daily.tokens()).toHaveLength(before);
  });
});
