import { describe, expect, it } from 'vitest';
import { sql } from '../helpers/db.js';
import { createSlot } from '../helpers/fixtures.js';
import { outboundSuite } from '../helpers/outbound-suite.js';
import { sendStripe, stripeEvent } from '../helpers/webhooks.js';

const OFFSETS = '5h,90m';

describe('reminder offsets', () => {
  const s = outboundSuite({
    patients: 2,
    phonePrefix: '+1555040',
    env: { CAREBOOK_REMINDER_OFFSETS: OFFSETS },
  });
  /** Seconds before the start of each reminder the appointment has, largest first. */
  const reminderLeads = async (appointmentId: string) =>
    (
      await sql<{ lead: number }>(
        s.db.pool,
        `SELECT extract(epoch FROM s.starts_at - o.run_at)::int AS lead
           FROM outbox o JOIN appointments a ON a.id = o.appointment_id
           JOIN appointment_slots s ON s.id = a.slot_id
          WHERE o.appointment_id = $1 AND o.purpose = 'reminder' ORDER BY lead DESC`,
        [appointmentId],
      )
    ).map((row) => row.lead);

  it('a free booking confirmed by the API', async () => {
    const slot = await createSlot(s.db.pool, s.clinic, { startsInMinutes: 2 * 24 * 60 });
    const booked = await s.book(slot, 0);
    expect(await reminderLeads(booked.appointment.id)).toEqual([5 * 3600, 90 * 60]);
  });

  it('a priced booking confirmed by the worker from the signed payment_intent.succeeded', async () => {
    const slot = await createSlot(s.db.pool, s.clinic, { priceCents: 3000, startsInMinutes: 3 * 24 * 60 });
    const booked = await s.book(slot, 1);
    await s.drain();
    const [intent] = s.fakes.stripe.paymentIntents(booked.payment!.id);
    await s.fakes.stripe.succeed(intent!.id);
    const paid = await sendStripe(
      s.t.app,
      stripeEvent('payment_intent.succeeded', {
        id: intent!.id,
        object: 'payment_intent',
        metadata: { carebook_payment_id: booked.payment!.id },
      }),
    );
    expect(paid.statusCode).toBe(200);
    await s.drain();
    const [status] = await sql<{ status: string }>(
      s.db.pool,
      'SELECT status FROM appointments WHERE id = $1',
      [booked.appointment.id],
    );
    expect(status?.status).toBe('confirmed');
    expect(await reminderLeads(booked.appointment.id)).toEqual([5 * 3600, 90 * 60]);
  });
});
