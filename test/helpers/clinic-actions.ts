// What patients, staff and Stripe do to appointments, through the real API (as
// test/outbound/e2e.test.ts does): book, pay (the fake Stripe takes the money and sends its signed
// event), reschedule, cancel, and let an unpaid hold expire.
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { bearer } from './app.js';
import { sql } from './db.js';
import { type ClinicFixture, createClinic, createSlot, type SlotOptions } from './fixtures.js';
import type { FaultBed } from './outbox-faults.js';
import { sendStripe, stripeEvent } from './webhooks.js';

export interface Booked {
  appointment: string;
  payment: string | null;
}

export interface ClinicActions {
  clinic: ClinicFixture;
  /** Its patients' phone numbers start with this. */
  phonePrefix: string;
  book(slot: SlotOptions, patient?: number): Promise<Booked>;
  /** Pays the booking's PaymentIntent; false when there is none to pay yet (or it was cancelled). */
  pay(booked: Booked): Promise<boolean>;
  reschedule(appointment: string, slot: SlotOptions): Promise<void>;
  cancel(appointment: string): Promise<void>;
  /** The unpaid hold lapses and the expiry job runs. */
  expire(appointment: string): Promise<void>;
}

let clinics = 0;

/** A clinic of its own (its patients' numbers unique to it); patients listed in `whatsapp` chose WhatsApp. */
export async function clinicActions(
  bed: FaultBed,
  options: { patients?: number; whatsapp?: number[] } = {},
): Promise<ClinicActions> {
  clinics += 1;
  // Numbers of this clinic only: the fakes are shared by every clinic of a test file.
  const prefix = `+1${String(process.pid % 1000).padStart(3, '0')}${String(clinics % 1000).padStart(3, '0')}`;
  const clinic = await createClinic(bed.db.pool, { patients: options.patients ?? 2, phonePrefix: prefix });
  for (const index of options.whatsapp ?? []) {
    await bed.db.pool.query(`UPDATE patients SET message_channel = 'whatsapp' WHERE id = $1`, [
      clinic.patientIds[index],
    ]);
  }
  const { app } = bed.t;
  const patient = (i: number) =>
    bearer({ role: 'patient', clinic_id: clinic.clinicId, patient_id: clinic.patientIds[i], sub: `p-${i}` });
  const staff = () => bearer({ role: 'staff', clinic_id: clinic.clinicId, sub: clinic.practitionerId });
  const patientOf = async (appointment: string) => {
    const [row] = await sql<{ patient_id: string }>(
      bed.db.pool,
      'SELECT patient_id FROM appointments WHERE id = $1',
      [appointment],
    );
    return clinic.patientIds.indexOf(row!.patient_id);
  };

  return {
    clinic,
    phonePrefix: prefix,
    async book(slot, who = 0) {
      const response = await app.inject({
        method: 'POST',
        url: '/api/appointments',
        headers: { ...(await patient(who)), 'idempotency-key': randomUUID() },
        payload: { slot_id: await createSlot(bed.db.pool, clinic, slot) },
      });
      expect(response.statusCode, response.body).toBe(201);
      const body = response.json() as { appointment: { id: string }; payment: { id: string } | null };
      return { appointment: body.appointment.id, payment: body.payment?.id ?? null };
    },
    async pay(booked) {
      if (booked.payment === null) return false;
      const [intent] = bed.fakes.stripe.paymentIntents(booked.payment);
      if (intent?.status !== 'requires_payment_method') return false;
      await bed.fakes.stripe.succeed(intent.id);
      const paid = await sendStripe(
        app,
        stripeEvent('payment_intent.succeeded', {
          id: intent.id,
          object: 'payment_intent',
          amount: intent.amount,
          currency: intent.currency,
          metadata: intent.metadata,
        }),
      );
      expect(paid.statusCode, paid.body).toBe(200);
      return true;
    },
    async reschedule(appointment, slot) {
      const response = await app.inject({
        method: 'POST',
        url: `/api/appointments/${appointment}/reschedule`,
        headers: { ...(await patient(await patientOf(appointment))), 'idempotency-key': randomUUID() },
        payload: { new_slot_id: await createSlot(bed.db.pool, clinic, slot) },
      });
      expect(response.statusCode, response.body).toBe(200);
    },
    async cancel(appointment) {
      const response = await app.inject({
        method: 'POST',
        url: `/api/appointments/${appointment}/cancel`,
        headers: await staff(),
        payload: { reason: 'a fault test cancels it' },
      });
      expect(response.statusCode, response.body).toBe(200);
    },
    async expire(appointment) {
      await bed.db.pool.query(
        `UPDATE appointments SET hold_expires_at = now() - interval '1 minute' WHERE id = $1`,
        [appointment],
      );
      await bed.db.pool.query('SELECT expire_unpaid_holds()');
    },
  };
}
