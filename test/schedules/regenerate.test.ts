// Regeneration through the clinic API and the service: DST nights end up as the right rows, a
// re-run writes no row, and a booked slot is never moved or cancelled by any schedule edit.
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { Temporal } from 'temporal-polyfill';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withTenant } from '../../src/db/tenant.js';
import { expandCalendar } from '../../src/schedules/expand.js';
import { type RegenerateOptions, regeneratePractitioner } from '../../src/schedules/regenerate.js';
import { loadCalendar } from '../../src/schedules/store.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import {
  clinicIn,
  nextTransitions,
  postSchedule,
  putSchedule,
  saturdayNight,
  schedulesUrl,
} from '../helpers/schedules.js';

const service = { dbRole: 'carebook_worker', appRole: 'service', userId: 'test-generator' } as const;

/**
 * Every value a slot copies from its schedule, each one different from the others: a stored value
 * read back into the wrong field, or left out of the re-run's comparison, changes what a re-run does.
 */
const EVERY_COPIED_VALUE = {
  visit_type: 'video',
  price_cents: 4500,
  currency: 'EUR',
  min_notice_minutes: 120,
  buffer_before_minutes: 5,
  buffer_after_minutes: 10,
};

describe('slot regeneration', () => {
  let db: TestDatabase;
  let t: TestApp;
  beforeAll(async () => {
    db = await createTestDatabase();
    t = await buildTestApp(db);
  });
  afterAll(async () => {
    await t.close();
    await db.drop();
  });

  const slotsOf = (practitionerId: string) =>
    sql<{ id: string; starts_at: Date; status: string; appointment_id: string | null; xmin: string }>(
      db.pool,
      `SELECT id, starts_at, status, appointment_id, xmin::text FROM appointment_slots
        WHERE practitioner_id = $1 ORDER BY starts_at, id`,
      [practitionerId],
    );
  const regenerate = (practitionerId: string, options?: RegenerateOptions) =>
    withTenant(db.pool, service, (client) => regeneratePractitioner(client, practitionerId, options));

  it('stores the New York fall-back night as 9 slots and the spring-forward night as 7', async () => {
    const clinic = await clinicIn(db.pool, 'America/New_York');
    const { springForward, fallBack } = nextTransitions('America/New_York');
    for (const [sunday, count] of [
      [fallBack, 9],
      [springForward, 7],
    ] as const) {
      const saturday = Temporal.PlainDate.from(sunday).subtract({ days: 1 }).toString();
      const created = await postSchedule(t.app, clinic, saturdayNight(saturday));
      expect(created.statusCode, created.body).toBe(201);
      expect(created.json().generation).toMatchObject({ created: count, withdrawn: 0, needs_review: 0 });
      const rows = await sql<{ local_date: string; starts_at: Date }>(
        db.pool,
        `SELECT local_date, starts_at FROM appointment_slots WHERE schedule_id = $1 ORDER BY starts_at`,
        [created.json().schedule.id],
      );
      expect(rows).toHaveLength(count);
      expect(new Set(rows.map((r) => r.local_date))).toEqual(new Set([saturday]));
    }
  });

  it('writes no row at all when nothing changed', async () => {
    const clinic = await clinicIn(db.pool, 'Europe/Madrid');
    const created = await postSchedule(t.app, clinic, {
      valid_from: '2025-01-06',
      slot_minutes: 30,
      horizon_days: 60,
      ...EVERY_COPIED_VALUE,
      rules: [1, 2, 3, 4, 5].map((weekday) => ({ weekday, start: '09:00', end: '14:00' })),
    });
    const { generation } = created.json();
    expect(generation.created).toBeGreaterThan(300);
    const before = await slotsOf(clinic.practitionerId);
    const again = await regenerate(clinic.practitionerId);
    expect(again).toEqual({ created: 0, unchanged: generation.created, withdrawn: 0, needs_review: 0 });
    expect(await slotsOf(clinic.practitionerId)).toEqual(before); // same xmin: not even rewritten
  });

  it('rewrites every free slot when any value it copies changes, and a tzdata upgrade too', async () => {
    const clinic = await clinicIn(db.pool, 'Europe/Madrid');
    const schedule = {
      valid_from: '2025-01-06',
      slot_minutes: 60,
      horizon_days: 14,
      ...EVERY_COPIED_VALUE,
      rules: [1, 2, 3, 4, 5].map((weekday) => ({ weekday, start: '09:00', end: '12:00' })),
    };
    const created = await postSchedule(t.app, clinic, schedule);
    const slots: number = created.json().generation.created;
    expect(slots).toBeGreaterThan(10);
    const scheduleUrl = `${schedulesUrl(clinic)}/${created.json().schedule.id}`;
    const copied = () =>
      sql(
        db.pool,
        `SELECT DISTINCT visit_type, price_cents, currency, min_notice_minutes, buffer_before_minutes,
                buffer_after_minutes, tzdata_version
           FROM appointment_slots WHERE practitioner_id = $1 AND status = 'open'`,
        [clinic.practitionerId],
      );
    // One value at a time: a comparison that missed any one of them would leave the slots stale.
    const edits = [
      { visit_type: 'in_person' },
      { price_cents: 5000 },
      { currency: 'USD' },
      { min_notice_minutes: 60 },
      { buffer_before_minutes: 0 },
      { buffer_after_minutes: 15 },
    ];
    let current: Record<string, unknown> = schedule;
    for (const edit of edits) {
      current = { ...current, ...edit };
      const changed = await putSchedule(t.app, scheduleUrl, clinic, current);
      expect(changed.statusCode, changed.body).toBe(200);
      expect(changed.json().generation, JSON.stringify(edit)).toEqual({
        created: slots,
        unchanged: 0,
        withdrawn: 0,
        needs_review: 0,
      });
      expect(await copied()).toEqual([
        {
          visit_type: current.visit_type,
          price_cents: current.price_cents,
          currency: current.currency,
          min_notice_minutes: current.min_notice_minutes,
          buffer_before_minutes: current.buffer_before_minutes,
          buffer_after_minutes: current.buffer_after_minutes,
          tzdata_version: process.versions.tz,
        },
      ]);
    }
    const upgraded = await regenerate(clinic.practitionerId, { tzdataVersion: 'next-tzdata' });
    expect(upgraded).toEqual({ created: slots, unchanged: 0, withdrawn: 0, needs_review: 0 });
    expect((await copied()).map((row) => row.tzdata_version)).toEqual(['next-tzdata']);
  });

  it('never moves or cancels a booked slot: any edit leaves it booked, as needs_review', async () => {
    const clinic = await clinicIn(db.pool, 'America/New_York');
    const schedule = {
      valid_from: '2025-01-06',
      slot_minutes: 60,
      horizon_days: 14,
      rules: [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '09:00', end: '12:00' })),
    };
    const created = await postSchedule(t.app, clinic, schedule);
    const scheduleUrl = `${schedulesUrl(clinic)}/${created.json().schedule.id}`;
    const [slot] = (await slotsOf(clinic.practitionerId)).slice(3);
    if (!slot) throw new Error('no slot generated');
    const booked = await t.app.inject({
      method: 'POST',
      url: '/api/appointments',
      headers: { ...clinic.patient, 'idempotency-key': randomUUID() },
      payload: { slot_id: slot.id },
    });
    expect(booked.statusCode, booked.body).toBe(201);
    const appointmentId = booked.json().appointment.id;

    const edits = [
      { ...schedule, rules: schedule.rules.map((r) => ({ ...r, start: '13:00', end: '16:00' })) },
      { ...schedule, slot_minutes: 30 },
      { ...schedule, price_cents: 9000, currency: 'USD' },
      { ...schedule, timezone: 'Asia/Tokyo' },
    ];
    for (const edit of edits) {
      const changed = await putSchedule(t.app, scheduleUrl, clinic, edit);
      expect(changed.statusCode, changed.body).toBe(200);
      const row = (await slotsOf(clinic.practitionerId)).find((s) => s.id === slot.id);
      expect(row).toMatchObject({
        status: 'needs_review',
        appointment_id: appointmentId,
        starts_at: slot.starts_at,
      });
      // Nothing new overlaps the booked hour.
      const overlapping = await sql(
        db.pool,
        `SELECT 1 FROM appointment_slots o, appointment_slots b WHERE b.id = $1 AND o.id <> b.id
           AND o.practitioner_id = b.practitioner_id AND o.status = 'open'
           AND tstzrange(o.starts_at, o.ends_at) && tstzrange(b.starts_at, b.ends_at)`,
        [slot.id],
      );
      expect(overlapping).toEqual([]);
    }
    const review = await t.app.inject({
      method: 'GET',
      url: `/api/clinics/${clinic.clinicId}/slots-needing-review`,
      headers: clinic.staff,
    });
    expect(review.json().slots).toEqual([
      expect.objectContaining({ slot_id: slot.id, appointment_id: appointmentId }),
    ]);

    const restored = await putSchedule(t.app, scheduleUrl, clinic, schedule);
    expect(restored.json().generation.needs_review).toBe(0);
    expect((await slotsOf(clinic.practitionerId)).find((s) => s.id === slot.id)?.status).toBe('open');

    const deleted = await t.app.inject({ method: 'DELETE', url: scheduleUrl, headers: clinic.staff });
    expect(deleted.json().generation).toMatchObject({ created: 0, needs_review: 1 });
    const left = await slotsOf(clinic.practitionerId);
    expect(left.filter((s) => s.status === 'open')).toEqual([]);
    expect(left.find((s) => s.id === slot.id)).toMatchObject({
      status: 'needs_review',
      appointment_id: appointmentId,
    });
    const appointment = await sql(db.pool, 'SELECT status, slot_id FROM appointments WHERE id = $1', [
      appointmentId,
    ]);
    expect(appointment).toEqual([{ status: 'confirmed', slot_id: slot.id }]);
  });

  it('is idempotent and matches the expansion for random schedules in random zones', async () => {
    const zones = [
      'America/New_York',
      'Europe/Madrid',
      'Australia/Lord_Howe',
      'America/Santiago',
      'Asia/Kolkata',
    ];
    const hhmm = fc
      .tuple(fc.integer({ min: 0, max: 23 }), fc.constantFrom(0, 30))
      .map(([h, m]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...zones),
        fc.constantFrom(20, 30, 45, 60),
        fc.array(fc.record({ weekday: fc.integer({ min: 1, max: 7 }), start: hhmm, end: hhmm }), {
          minLength: 1,
          maxLength: 4,
        }),
        async (timezone, slot_minutes, rules) => {
          const clinic = await clinicIn(db.pool, 'UTC');
          const created = await postSchedule(t.app, clinic, {
            timezone,
            valid_from: '2025-01-06',
            slot_minutes,
            horizon_days: 21,
            rules,
          });
          expect(created.statusCode, created.body).toBe(201);
          const first = created.json().generation;
          const again = await regenerate(clinic.practitionerId);
          expect(again).toEqual({ created: 0, unchanged: first.created, withdrawn: 0, needs_review: 0 });
          const calendar = await withTenant(db.pool, service, (client) =>
            loadCalendar(client, clinic.practitionerId),
          );
          const stored = (await slotsOf(clinic.practitionerId)).filter((s) => s.status === 'open');
          const expected = expandCalendar(calendar as NonNullable<typeof calendar>, Temporal.Now.instant());
          // The stored slots are the expansion's (give or take a slot starting in between).
          expect(Math.abs(stored.length - expected.length)).toBeLessThanOrEqual(1);
          const starts = new Set(stored.map((s) => s.starts_at.getTime()));
          expect(expected.filter((s) => !starts.has(s.startsAt)).length).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 12 },
    );
  });
});
