// A visit moved A → B → A → B: every move is told, the room follows the last one, and the
// reminders are those of the start it has at the end (keyed by start, the second staging of a key
// once did nothing: the reminders stayed cancelled and the last moves were never told).
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bearer } from '../helpers/app.js';
import { sql } from '../helpers/db.js';
import { createSlot } from '../helpers/fixtures.js';
import { outboundSuite } from '../helpers/outbound-suite.js';

describe('an appointment moved back and forth', () => {
  const s = outboundSuite({ patients: 1, phonePrefix: '+1555050' });
  const patient = () =>
    bearer({
      role: 'patient',
      clinic_id: s.clinic.clinicId,
      patient_id: s.clinic.patientIds[0],
      sub: 'patient-0',
    });
  const startOf = async (slot: string) =>
    (
      await sql<{ at: Date }>(s.db.pool, 'SELECT starts_at AS at FROM appointment_slots WHERE id = $1', [
        slot,
      ])
    )[0]!.at;

  it('tells every move, moves the room each time and keeps the reminders of the final start', async () => {
    const a = await createSlot(s.db.pool, s.clinic, { visitType: 'video', startsInMinutes: 3 * 24 * 60 });
    const b = await createSlot(s.db.pool, s.clinic, { visitType: 'video', startsInMinutes: 5 * 24 * 60 });
    const booked = await s.t.app.inject({
      method: 'POST',
      url: '/api/appointments',
      headers: { ...(await patient()), 'idempotency-key': randomUUID() },
      payload: { slot_id: a },
    });
    expect(booked.statusCode, booked.body).toBe(201);
    const appointment = (booked.json() as { appointment: { id: string } }).appointment.id;
    await s.drain();
    for (const slot of [b, a, b]) {
      const moved = await s.t.app.inject({
        method: 'POST',
        url: `/api/appointments/${appointment}/reschedule`,
        headers: { ...(await patient()), 'idempotency-key': randomUUID() },
        payload: { new_slot_id: slot },
      });
      expect(moved.statusCode, moved.body).toBe(200);
      await s.drain();
    }

    const [phone] = await sql<{ phone: string }>(s.db.pool, 'SELECT phone FROM patients WHERE id = $1', [
      s.clinic.patientIds[0],
    ]);
    const bodies = s.fakes.twilio.messages({ to: phone!.phone }).map((m) => m.body);
    expect(bodies.filter((body) => body.includes('has moved to'))).toHaveLength(3);
    expect(bodies.filter((body) => body.includes('is confirmed'))).toHaveLength(1);

    const [room] = s.fakes.daily.rooms();
    expect(s.fakes.daily.rooms()).toHaveLength(1);
    const bStart = (await startOf(b)).getTime() / 1000;
    const aStart = (await startOf(a)).getTime() / 1000;
    // The room opens shortly before B's start (not A's, two days earlier).
    expect(Number(room!.config.nbf)).toBeGreaterThan(aStart + 24 * 3600);
    expect(Number(room!.config.nbf)).toBeLessThanOrEqual(bStart);

    const waiting = await sql<{ lead: number }>(
      s.db.pool,
      `SELECT extract(epoch FROM $2::timestamptz - run_at)::int AS lead FROM outbox
        WHERE appointment_id = $1 AND purpose = 'reminder' AND status = 'pending' ORDER BY lead DESC`,
      [appointment, new Date(bStart * 1000)],
    );
    expect(waiting.map((row) => row.lead)).toEqual([86_400, 3_600]);
    // Waiting for their time is not being late: no age until a job is due.
    expect(
      await sql(
        s.db.pool,
        `SELECT items::int, oldest_seconds FROM queue_stats() WHERE kind = 'outbox.message'`,
      ),
    ).toEqual([{ items: 2, oldest_seconds: null }]);
  });
});
