// Provider accounts stay inside their clinic (security review H2): events that came through clinic
// A's own Stripe, Twilio or Daily account and name clinic B's payment, patient or room are stored
// and noted, never applied; the same events through B's reach B; a platform-wide account acts in
// any one clinic, and not at all for a phone number known to two clinics.
import { describe, expect, it } from 'vitest';
import { sql } from '../helpers/db.js';
import { createClinic } from '../helpers/fixtures.js';
import {
  dailyEvent,
  paymentIntent,
  sendDaily,
  sendStripe,
  sendTwilio,
  stripeEvent,
} from '../helpers/webhooks.js';
import { useWorkerFixture } from '../helpers/worker-fixture.js';

const HARBOR = {
  STRIPE_WEBHOOK_SECRET_HARBOR: 'whsec_harbor_account_0001',
  TWILIO_AUTH_TOKEN_HARBOR: 'harbor_twilio_token_0123456789',
  DAILY_WEBHOOK_SECRET_HARBOR: Buffer.from('harbor-daily-secret-0123456789ab').toString('base64'),
};

describe('provider events stay inside the clinic of their account', () => {
  const f = useWorkerFixture(HARBOR);

  /** Clinic A (the fixture's) owns the harbor accounts; clinic B is another tenant. */
  async function clinics(phonePrefix = '+4915550') {
    const b = await createClinic(f.db.pool, { patients: 2, phonePrefix });
    for (const [provider, name, ref] of [
      ['stripe', 'harbor', 'STRIPE_WEBHOOK_SECRET_HARBOR'],
      ['twilio', 'harbor-sms', 'TWILIO_AUTH_TOKEN_HARBOR'],
      ['daily', 'harbor-video', 'DAILY_WEBHOOK_SECRET_HARBOR'],
    ] as const) {
      await sql(
        f.db.pool,
        `INSERT INTO integrations (provider, name, secret_ref, clinic_id) VALUES ($1, $2, $3, $4)
         ON CONFLICT (provider, name) DO NOTHING`,
        [provider, name, ref, f.clinic.clinicId],
      );
    }
    return { a: f.clinic, b };
  }
  const noteOf = async (eventId: string) =>
    (
      await sql<{ status: string; note: string }>(
        f.db.pool,
        'SELECT status, note FROM webhook_events WHERE event_id = $1',
        [eventId],
      )
    )[0];
  const crossClinicAudits = async () =>
    (
      await sql<{ n: number }>(
        f.db.pool,
        `SELECT count(*)::int AS n FROM audit.audit_log WHERE action = 'webhook.cross_clinic_ignored'`,
      )
    )[0]?.n;

  it("Stripe: A's account cannot confirm B's payment; B's own event through the platform account can", async () => {
    const { b } = await clinics();
    const booking = await f.pendingBooking(0, {}, b);
    const forged = stripeEvent(
      'payment_intent.succeeded',
      paymentIntent(booking.payment.id),
      'evt_cross_stripe',
    );
    expect(
      (
        await sendStripe(f.t.app, forged, {
          path: '/webhooks/stripe/harbor',
          secret: HARBOR.STRIPE_WEBHOOK_SECRET_HARBOR,
        })
      ).statusCode,
    ).toBe(200);
    const audits = await crossClinicAudits();
    await f.worker().drain();
    expect(await noteOf('evt_cross_stripe')).toMatchObject({
      status: 'success',
      note: expect.stringMatching(/^ignored: .*another clinic/),
    });
    expect(await f.statusOf(booking.appointment.id)).toEqual({
      appointment: 'pending_payment',
      payment: 'pending',
    });
    expect(await crossClinicAudits()).toBe((audits ?? 0) + 1);

    const genuine = stripeEvent(
      'payment_intent.succeeded',
      paymentIntent(booking.payment.id),
      'evt_platform_stripe',
    );
    await sendStripe(f.t.app, genuine);
    await f.worker().drain();
    expect(await f.statusOf(booking.appointment.id)).toEqual({
      appointment: 'confirmed',
      payment: 'succeeded',
    });
  });

  it("Daily: A's account cannot complete B's video visit", async () => {
    const { b } = await clinics();
    const booking = await f.pendingBooking(
      1,
      { visitType: 'video', priceCents: null, currency: null, startsInMinutes: 60 * 24 * 30 },
      b,
    );
    const [{ room } = { room: '' }] = await sql<{ room: string }>(
      f.db.pool,
      'SELECT video_room_name AS room FROM appointments WHERE id = $1',
      [booking.appointment.id],
    );
    const ended = dailyEvent(
      'meeting.ended',
      { room, start_ts: 1_700_000_000, end_ts: 1_700_000_600 },
      'daily-cross-1',
    );
    expect(
      (
        await sendDaily(f.t.app, ended, {
          path: '/webhooks/daily/harbor-video',
          secret: HARBOR.DAILY_WEBHOOK_SECRET_HARBOR,
        })
      ).statusCode,
    ).toBe(200);
    await f.worker().drain();
    expect(await noteOf('daily-cross-1')).toMatchObject({
      note: expect.stringMatching(/^ignored: .*another clinic/),
    });
    const [appointment] = await sql(
      f.db.pool,
      'SELECT status, video_ended_at FROM appointments WHERE id = $1',
      [booking.appointment.id],
    );
    expect(appointment).toEqual({ status: 'confirmed', video_ended_at: null });
  });

  it("Twilio: a reply through A's account from B's patient's number cancels nothing in B; A's own patient is served", async () => {
    const { a, b } = await clinics();
    const theirs = await f.pendingBooking(0, { startsInMinutes: 60 * 24 * 40 }, b);
    const bPhone = '+49155500000';
    const send = (params: Record<string, string>) =>
      sendTwilio(
        f.t.app,
        { AccountSid: 'ACharbor', To: '+15550001000', ...params },
        { path: '/webhooks/twilio/harbor-sms', token: HARBOR.TWILIO_AUTH_TOKEN_HARBOR },
      );
    expect((await send({ MessageSid: 'SMcross1', From: bPhone, Body: 'C' })).statusCode).toBe(200);
    const ours = await f.pendingBooking(0, { startsInMinutes: 60 * 24 * 41 }, a);
    const [{ phone } = { phone: '' }] = await sql<{ phone: string }>(
      f.db.pool,
      'SELECT phone FROM patients WHERE id = $1',
      [a.patientIds[0]],
    );
    await send({ MessageSid: 'SMown1', From: phone, Body: 'C' });
    await f.worker().drain();
    expect((await f.statusOf(theirs.appointment.id))?.appointment).toBe('pending_payment');
    expect((await f.statusOf(ours.appointment.id))?.appointment).toBe('cancelled');
    expect(
      await sql(
        f.db.pool,
        `SELECT provider_message_id, clinic_id, outcome FROM inbound_messages WHERE provider_message_id IN ('SMcross1', 'SMown1') ORDER BY 1`,
      ),
    ).toEqual([
      { provider_message_id: 'SMcross1', clinic_id: null, outcome: 'unknown_sender' },
      { provider_message_id: 'SMown1', clinic_id: a.clinicId, outcome: 'cancelled' },
    ]);
  });

  it('a platform-wide account acts for a number known to one clinic, and for none when two clinics know it', async () => {
    const { b } = await clinics('+4915551');
    const c = await createClinic(f.db.pool, { patients: 1, phonePrefix: '+4915551' }); // same number as B's patient 0
    const inB = await f.pendingBooking(0, { startsInMinutes: 60 * 24 * 45 }, b);
    const inC = await f.pendingBooking(0, { startsInMinutes: 60 * 24 * 46 }, c);
    await sendTwilio(f.t.app, {
      MessageSid: 'SMambiguous',
      From: '+49155510000',
      Body: 'C',
      AccountSid: 'AC1',
    });
    await sendTwilio(f.t.app, {
      MessageSid: 'SMunique',
      From: '+49155510001',
      Body: 'YES',
      AccountSid: 'AC1',
    });
    await f.worker().drain();
    expect((await f.statusOf(inB.appointment.id))?.appointment).toBe('pending_payment');
    expect((await f.statusOf(inC.appointment.id))?.appointment).toBe('pending_payment');
    expect(
      await sql(
        f.db.pool,
        `SELECT provider_message_id, outcome FROM inbound_messages WHERE provider_message_id IN ('SMambiguous', 'SMunique') ORDER BY 1`,
      ),
    ).toEqual([
      { provider_message_id: 'SMambiguous', outcome: 'ambiguous_sender' },
      { provider_message_id: 'SMunique', outcome: 'no_upcoming_appointment' },
    ]);
  });

  it('refuses an account with no clinic unless it is declared platform-wide', async () => {
    await expect(
      sql(
        f.db.pool,
        `INSERT INTO integrations (provider, name, secret_ref) VALUES ('stripe', 'forgotten', 'STRIPE_WEBHOOK_SECRET_X')`,
      ),
    ).rejects.toMatchObject({ code: '23514', constraint: 'integrations_owner_explicit' });
  });
});
