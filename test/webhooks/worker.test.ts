// The worker and the handlers against the real procedures: each provider event's business effect,
// applied once and in any order; retries with growing backoff; dead letters; replay; leases.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bookAppointment, sweep } from '../../src/booking/service.js';
import { loadConfig } from '../../src/config.js';
import { tenantContext } from '../../src/http/auth.js';
import { createLogger } from '../../src/observability/logger.js';
import { claimEvents, releaseEvents } from '../../src/webhooks/queue.js';
import { replayEvents } from '../../src/webhooks/replay.js';
import { WebhookWorker } from '../../src/webhooks/worker.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { type ClinicFixture, createClinic, createSlot } from '../helpers/fixtures.js';
import {
  dailyEvent,
  paymentIntent,
  sendDaily,
  sendStripe,
  sendTwilio,
  sendWhatsApp,
  stripeEvent,
  WEBHOOK_ENV,
  whatsappBody,
} from '../helpers/webhooks.js';

describe('webhook worker', () => {
  let db: TestDatabase;
  let t: TestApp;
  let clinic: ClinicFixture;
  const config = loadConfig({ ...WEBHOOK_ENV, CAREBOOK_JWT_SECRET: 'x'.repeat(40) });
  const workers: WebhookWorker[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await buildTestApp(db, WEBHOOK_ENV);
    clinic = await createClinic(db.pool, { patients: 3, phonePrefix: '+1555020' });
  });
  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.stop()));
    await t.close();
    await db.drop();
  });

  function worker(overrides: Partial<typeof config.worker> = {}, id?: string): WebhookWorker {
    const created = new WebhookWorker({
      pool: db.pool,
      databaseUrl: db.url,
      logger: createLogger('silent'),
      metrics: t.metrics,
      config: { ...config.worker, ...overrides },
      workerId: id,
      jitter: () => 1,
      pollMs: 50,
    });
    workers.push(created);
    return created;
  }

  const event = async (eventId: string) =>
    (
      await sql<{
        status: string;
        attempts: number;
        error: string | null;
        note: string | null;
        delay: number | null;
      }>(
        db.pool,
        `SELECT status, attempts, error, note, extract(epoch FROM next_attempt_at - last_attempt_at)::float AS delay
         FROM webhook_events WHERE event_id = $1`,
        [eventId],
      )
    )[0];
  const makeDue = (eventId: string) =>
    db.pool.query(`UPDATE webhook_events SET next_attempt_at = now() WHERE event_id = $1`, [eventId]);

  async function pendingBooking(
    patient = 0,
    options: { visitType?: 'video'; startsInMinutes?: number } = {},
    where = clinic,
  ) {
    const slot = await createSlot(db.pool, where, { priceCents: 5000, currency: 'USD', ...options });
    const context = tenantContext({
      sub: `p${patient}`,
      role: 'patient',
      clinicId: where.clinicId,
      patientId: where.patientIds[patient] ?? null,
    });
    const booked = await bookAppointment({ pool: db.pool, metrics: t.metrics, holdMinutes: 15 }, context, {
      slotId: slot,
      patientId: where.patientIds[patient] ?? '',
      idempotencyKey: randomUUID(),
    });
    return { slot, appointment: booked.body.appointment, payment: booked.body.payment! };
  }
  const statusOf = async (appointmentId: string) =>
    (
      await sql<{ appointment: string; payment: string }>(
        db.pool,
        'SELECT a.status AS appointment, p.status AS payment FROM appointments a JOIN payments p ON p.appointment_id = a.id WHERE a.id = $1',
        [appointmentId],
      )
    )[0];

  it('Stripe payment_intent.succeeded confirms the held appointment once, however often it arrives', async () => {
    const { appointment, payment } = await pendingBooking();
    const intent = paymentIntent(payment.id);
    const body = stripeEvent('payment_intent.succeeded', intent, 'evt_paid_1');
    await sendStripe(t.app, body);
    await sendStripe(t.app, body);
    await sendStripe(t.app, stripeEvent('payment_intent.succeeded', intent, 'evt_paid_1_again'));
    await worker().drain();
    expect(await statusOf(appointment.id)).toEqual({ appointment: 'confirmed', payment: 'succeeded' });
    expect((await event('evt_paid_1'))?.note).toBe('payment succeeded, appointment confirmed');
    expect((await event('evt_paid_1_again'))?.note).toBe('already settled: payment succeeded');
    const audits = await sql(
      db.pool,
      `SELECT 1 FROM audit.audit_log WHERE row_id = $1 AND action = 'update' AND new_values ->> 'status' = 'succeeded'`,
      [payment.id],
    );
    expect(audits).toHaveLength(1);
  });

  it('a failed payment keeps the hold; a later success still confirms', async () => {
    const { appointment, payment } = await pendingBooking(1);
    const intent = { ...paymentIntent(payment.id), last_payment_error: { message: 'card declined' } };
    await sendStripe(t.app, stripeEvent('payment_intent.payment_failed', intent));
    await worker().drain();
    expect(await statusOf(appointment.id)).toEqual({ appointment: 'pending_payment', payment: 'failed' });
    await sendStripe(t.app, stripeEvent('payment_intent.succeeded', intent));
    await worker().drain();
    expect(await statusOf(appointment.id)).toEqual({ appointment: 'confirmed', payment: 'succeeded' });
  });

  it('a payment that succeeds after the hold expired is marked refund_required, the slot not re-booked', async () => {
    const { appointment, payment, slot } = await pendingBooking(2);
    await db.pool.query(
      `UPDATE appointments SET hold_expires_at = now() - interval '1 second' WHERE id = $1`,
      [appointment.id],
    );
    await sweep({ pool: db.pool, metrics: t.metrics });
    await sendStripe(t.app, stripeEvent('payment_intent.succeeded', paymentIntent(payment.id)));
    await worker().drain();
    expect(await statusOf(appointment.id)).toEqual({ appointment: 'expired', payment: 'refund_required' });
    expect(await sql(db.pool, 'SELECT is_available FROM appointment_slots WHERE id = $1', [slot])).toEqual([
      { is_available: true },
    ]);
  });

  it('retries an early refund with growing backoff, dead-letters it past the limit, and replay applies it once', async () => {
    const { payment } = await pendingBooking(0, { startsInMinutes: 60 * 24 * 40 });
    const intent = paymentIntent(payment.id);
    const refund = stripeEvent(
      'charge.refunded',
      { id: 'ch_1', object: 'charge', payment_intent: intent.id },
      'evt_refund_early',
    );
    await sendStripe(t.app, refund);
    const limited = worker({ maxAttempts: 3 });
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      await limited.drain();
      const state = await event('evt_refund_early');
      expect(state?.attempts).toBe(attempt);
      if (attempt < 3) {
        expect(state).toMatchObject({ status: 'failed', error: expect.stringContaining('no payment') });
        delays.push(Math.round(state?.delay ?? 0));
        await makeDue('evt_refund_early');
      }
    }
    expect(delays).toEqual([5, 10]);
    expect((await event('evt_refund_early'))?.status).toBe('dead_letter');
    const metrics = await (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/webhook_dead_letters\{provider="stripe"\} [1-9]/);

    // The PaymentIntent becomes known; the dead letter is replayed and now applies, once.
    await sendStripe(t.app, stripeEvent('payment_intent.succeeded', intent));
    await limited.drain();
    const [row] = await sql<{ id: string }>(
      db.pool,
      `SELECT id FROM webhook_events WHERE event_id = 'evt_refund_early'`,
    );
    const report = await replayEvents(
      { pool: db.pool, webhooks: config.webhooks },
      { status: 'dead_letter', ids: [row!.id] },
      {
        reason: 'payment intent now known',
        actor: 'test-operator',
        dryRun: false,
      },
    );
    expect(report).toMatchObject({ replayed: 1, skipped: [] });
    await limited.drain();
    expect(await event('evt_refund_early')).toMatchObject({
      status: 'success',
      attempts: 1,
      note: 'payment refunded',
    });
    expect(await sql(db.pool, 'SELECT status FROM payments WHERE id = $1', [payment.id])).toEqual([
      { status: 'refunded' },
    ]);
    const again = await replayEvents(
      { pool: db.pool, webhooks: config.webhooks },
      { status: 'dead_letter', ids: [row!.id] },
      {
        reason: 'second try',
        actor: 'test-operator',
        dryRun: false,
      },
    );
    expect(again.replayed).toBe(0);
    expect(
      await sql(
        db.pool,
        `SELECT actor, reason, details ->> 'replayed' AS n FROM audit.audit_log WHERE action = 'webhook.replay' ORDER BY id`,
      ),
    ).toEqual([
      { actor: 'test-operator', reason: 'payment intent now known', n: '1' },
      { actor: 'test-operator', reason: 'second try', n: '0' },
    ]);
  });

  it('a partial refund is noted and leaves the payment as it is', async () => {
    const { payment } = await pendingBooking(2, { startsInMinutes: 60 * 24 * 45 });
    const intent = paymentIntent(payment.id);
    await sendStripe(t.app, stripeEvent('payment_intent.succeeded', intent));
    const partial = {
      id: 'ch_partial',
      object: 'charge',
      payment_intent: intent.id,
      refunded: false,
      amount_refunded: 1000,
    };
    await sendStripe(t.app, stripeEvent('charge.refunded', partial, 'evt_partial_refund'));
    await worker().drain();
    expect((await event('evt_partial_refund'))?.note).toBe(
      'partial refund of 1000 (minor units): payment left as it is',
    );
    expect(await sql(db.pool, 'SELECT status FROM payments WHERE id = $1', [payment.id])).toEqual([
      { status: 'succeeded' },
    ]);
  });

  it('delivery statuses never move backwards; history keeps every callback', async () => {
    await db.pool.query(
      `INSERT INTO notifications (clinic_id, patient_id, channel, provider, provider_message_id) VALUES ($1, $2, 'sms', 'twilio', 'SMforward')`,
      [clinic.clinicId, clinic.patientIds[0]],
    );
    for (const status of ['sent', 'read', 'delivered']) {
      await sendTwilio(t.app, { MessageSid: 'SMforward', MessageStatus: status, AccountSid: 'AC1' });
      await worker().drain();
    }
    const [row] = await sql<{ status: string; history: Array<{ status: string }> }>(
      db.pool,
      `SELECT status, status_history AS history FROM notifications WHERE provider_message_id = 'SMforward'`,
    );
    expect(row?.status).toBe('read');
    expect(row?.history.map((entry) => entry.status)).toEqual(['sent', 'read', 'delivered']);
  });

  it('patient replies: C cancels the next appointment, Y confirms, anything else waits for staff', async () => {
    const own = await createClinic(db.pool, { patients: 1, phonePrefix: '+1555030' });
    const phone = '+15550300000';
    const first = await pendingBooking(0, { startsInMinutes: 60 * 24 * 50 }, own);
    const second = await pendingBooking(0, { startsInMinutes: 60 * 24 * 51 }, own);
    const reply = (body: string, sid: string) =>
      sendTwilio(t.app, { MessageSid: sid, From: phone, To: '+15550009999', Body: body, AccountSid: 'AC1' });
    await reply('  c ', 'SMreply1');
    await reply('c', 'SMreply1');
    await worker().drain();
    expect((await statusOf(first.appointment.id))?.appointment).toBe('cancelled');
    expect((await statusOf(second.appointment.id))?.appointment).toBe('pending_payment');
    await sendWhatsApp(
      t.app,
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
    await sendTwilio(t.app, { MessageSid: 'SMstranger', From: '+19999999999', Body: 'C', AccountSid: 'AC1' });
    await worker().drain();
    expect(
      await sql(
        db.pool,
        'SELECT patient_confirmed_at IS NOT NULL AS confirmed FROM appointments WHERE id = $1',
        [second.appointment.id],
      ),
    ).toEqual([{ confirmed: true }]);
    expect(
      await sql(
        db.pool,
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
    const slot = await createSlot(db.pool, clinic, { visitType: 'video', startsInMinutes: 60 * 24 * 60 });
    const context = tenantContext({
      sub: 'p2',
      role: 'patient',
      clinicId: clinic.clinicId,
      patientId: clinic.patientIds[2] ?? null,
    });
    const booked = await bookAppointment({ pool: db.pool, metrics: t.metrics, holdMinutes: 15 }, context, {
      slotId: slot,
      patientId: clinic.patientIds[2] ?? '',
      idempotencyKey: randomUUID(),
    });
    const [{ room }] = (await sql<{ room: string }>(
      db.pool,
      'SELECT video_room_name AS room FROM appointments WHERE id = $1',
      [booked.body.appointment.id],
    )) as [{ room: string }];
    await sendDaily(t.app, dailyEvent('meeting.ended', { room, start_ts: 1700000000, end_ts: 1700001800 }));
    await worker().drain();
    await sendDaily(t.app, dailyEvent('meeting.started', { room, start_ts: 1700000000 }));
    await worker().drain();
    const [row] = await sql(
      db.pool,
      'SELECT status, video_started_at, video_ended_at FROM appointments WHERE id = $1',
      [booked.body.appointment.id],
    );
    expect(row).toEqual({
      status: 'completed',
      video_started_at: new Date(1700000000_000),
      video_ended_at: new Date(1700001800_000),
    });
    expect(await sql(db.pool, 'SELECT appointment_id FROM appointment_slots WHERE id = $1', [slot])).toEqual([
      { appointment_id: null },
    ]);
  });

  it('ignores event types it has no handler for, and dead-letters an unreadable body at once', async () => {
    await sendStripe(t.app, stripeEvent('customer.created', { id: 'cus_1' }, 'evt_ignored'));
    await sendStripe(t.app, '{"looks":"like nothing we know"}');
    await worker().drain();
    expect(await event('evt_ignored')).toMatchObject({
      status: 'success',
      note: 'ignored: no handler for customer.created',
    });
    const [unreadable] = await sql(
      db.pool,
      `SELECT status, attempts FROM webhook_events WHERE event_type = 'unparseable'`,
    );
    expect(unreadable).toEqual({ status: 'dead_letter', attempts: 1 });
  });

  it('expired leases are reclaimed; the late holder cannot settle them', async () => {
    await sendStripe(t.app, stripeEvent('customer.updated', { id: 'cus_2' }, 'evt_lease'));
    const ghost = await claimEvents(db.pool, 'ghost', 100, 0); // a worker that died at once
    expect(ghost.map((claimed) => claimed.eventId)).toContain('evt_lease');
    await worker({}, 'rescuer').drain();
    expect(await event('evt_lease')).toMatchObject({ status: 'success', attempts: 2 });
    expect(
      await releaseEvents(
        db.pool,
        'ghost',
        ghost.map((claimed) => claimed.id),
      ),
    ).toBe(0);
  });

  it('several workers on one queue handle every event exactly once', async () => {
    const ids = Array.from({ length: 300 }, (_, i) => `evt_many_${i}`);
    await Promise.all(
      ids.map((id) => sendStripe(t.app, stripeEvent('charge.captured', { id: `ch_${id}` }, id))),
    );
    const crew = [
      worker({ concurrency: 2, batchSize: 10 }),
      worker({ concurrency: 2, batchSize: 10 }),
      worker({ concurrency: 2, batchSize: 10 }),
    ];
    for (const member of crew) member.start();
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const [left] = await sql<{ n: number }>(
        db.pool,
        `SELECT count(*)::int AS n FROM webhook_events WHERE event_id LIKE 'evt_many_%' AND status <> 'success'`,
      );
      if (left?.n === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await Promise.all(crew.map((member) => member.stop()));
    const rows = await sql<{ attempts: number; processed_by: string }>(
      db.pool,
      `SELECT attempts, processed_by FROM webhook_events WHERE event_id LIKE 'evt_many_%' AND status = 'success'`,
    );
    expect(rows).toHaveLength(300);
    expect(rows.every((row) => row.attempts === 1)).toBe(true);
    expect(new Set(rows.map((row) => row.processed_by)).size).toBeGreaterThan(1);
    expect(
      await sql(db.pool, `SELECT count(*)::int AS n FROM webhook_events WHERE status = 'processing'`),
    ).toEqual([{ n: 0 }]);
  });
});
