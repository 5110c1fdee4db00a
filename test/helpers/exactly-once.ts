// The fault tests' verdict, read from the FAKE providers' state: exactly one effect per dedupe key
// for one clinic — one PaymentIntent per payment (cancelled at Stripe when it will not be
// collected, refunded once when its refund was due), one room per video appointment (deleted once
// when the visit is off, its window the current one otherwise), one message per message row (the
// Twilio status callback and the WhatsApp callback data name the row that sent it) — and every
// outbox row at rest (succeeded, cancelled or expired) with no queue job left.
import { expect } from 'vitest';
import { roomNameFor } from '../../src/outbound/daily.js';
import { roomWindow } from '../../src/outbound/video.js';
import { sql } from './db.js';
import type { FaultBed } from './outbox-faults.js';

interface Row {
  id: string;
  kind: string;
  purpose: string;
  status: string;
  provider_ref: string | null;
  appointment_id: string;
  payment_id: string | null;
}

interface Appointment {
  id: string;
  status: string;
  visit_type: string;
  starts_at: Date;
  ends_at: Date;
  phone: string;
}

export async function expectExactlyOnce(bed: FaultBed, clinicId: string): Promise<void> {
  const { pool } = bed.db;
  const rows = await sql<Row>(
    pool,
    `SELECT id, kind, purpose, status, provider_ref, appointment_id, payment_id FROM outbox WHERE clinic_id = $1`,
    [clinicId],
  );
  const live = rows.filter((r) => !['succeeded', 'cancelled', 'expired'].includes(r.status));
  expect(live, 'outbox rows not at rest').toEqual([]);
  const jobs = await sql(pool, 'SELECT kind, attempts, dead_at FROM queue_jobs WHERE ref = ANY ($1)', [
    rows.map((r) => r.id),
  ]);
  expect(jobs, 'queue jobs left').toEqual([]);
  const rowsOf = (kind: string, where: (r: Row) => boolean) =>
    rows.filter((r) => r.kind === kind && where(r));

  const payments = await sql<{ id: string; status: string }>(
    pool,
    'SELECT id, status FROM payments WHERE clinic_id = $1',
    [clinicId],
  );
  for (const payment of payments) {
    const intents = bed.fakes.stripe.paymentIntents(payment.id);
    const [create] = rowsOf('payment', (r) => r.payment_id === payment.id);
    const label = `payment ${payment.id} (${payment.status}, create ${create?.status})`;
    expect(intents.length, `${label}: PaymentIntents`).toBeLessThanOrEqual(1);
    if (create?.status === 'succeeded')
      expect(
        intents.map((i) => i.id),
        label,
      ).toEqual([create.provider_ref]);
    const [intent] = intents;
    if (payment.status === 'cancelled' && intent !== undefined) expect(intent.status, label).toBe('canceled');
    const refunded = rowsOf('refund', (r) => r.payment_id === payment.id && r.status === 'succeeded');
    const refunds = intent === undefined ? [] : bed.fakes.stripe.refunds(intent.id);
    expect(refunds.length, `${label}: refunds`).toBe(refunded.length);
    if (payment.status === 'refund_required' || payment.status === 'refunded')
      expect(refunds.length, `${label}: refunds`).toBe(1);
  }

  const appointments = await sql<Appointment>(
    pool,
    `SELECT a.id, a.status, a.visit_type, a.starts_at, a.ends_at, p.phone
       FROM appointments a JOIN patients p ON p.id = a.patient_id WHERE a.clinic_id = $1`,
    [clinicId],
  );
  for (const appointment of appointments.filter((a) => a.visit_type === 'video')) {
    const name = roomNameFor(bed.env.DAILY_API_KEY!, appointment.id);
    const history = bed.fakes.daily.roomHistory(name);
    const [create] = rowsOf('room', (r) => r.appointment_id === appointment.id);
    const label = `room of ${appointment.status} appointment ${appointment.id} (row ${create?.status})`;
    expect(history.created, label).toBeLessThanOrEqual(1);
    if (create?.status === 'succeeded') expect(history.created, label).toBe(1);
    const room = bed.fakes.daily.rooms().find((r) => r.name === name);
    if (appointment.status === 'confirmed') {
      expect(history, label).toEqual({ created: 1, deleted: 0 });
      const window = roomWindow({ startsAt: appointment.starts_at, endsAt: appointment.ends_at });
      expect({ nbf: room?.config.nbf, exp: room?.config.exp }, `${label}: its window`).toEqual(window);
    } else {
      expect(history.deleted, `${label}: deleted`).toBe(history.created);
      expect(room, label).toBeUndefined();
    }
  }

  // Each message row's sends, found by the row id each send carries.
  const phones = new Set(appointments.map((a) => a.phone));
  const sms = bed.fakes.twilio.messages().filter((m) => phones.has(m.to));
  const chats = bed.fakes.whatsapp.messages().filter((m) => phones.has(`+${m.to}`));
  const messageRows = rowsOf('message', () => true);
  for (const row of messageRows) {
    const sent = [
      ...sms.filter((m) => m.statusCallback?.endsWith(`outbox=${row.id}`)).map((m) => m.sid),
      ...chats.filter((m) => m.callbackData === `outbox:${row.id}`).map((m) => m.id),
    ];
    const label = `${row.purpose} message ${row.id} (${row.status})`;
    expect(sent, label).toEqual(row.status === 'succeeded' ? [row.provider_ref] : []);
  }
  expect(sms.length + chats.length, 'messages sent by no row of this clinic').toBe(
    messageRows.filter((r) => r.status === 'succeeded').length,
  );
}
