// GET /api/availability: local dates of the clinic's zone, exact local times with offsets across a
// fall-back night, opaque cursor pages, and the promise that what it lists, booking accepts —
// with minimum notice and buffers applied the same way in both.
import { randomUUID } from 'node:crypto';
import { Temporal } from 'temporal-polyfill';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import {
  AROUND_THE_CLOCK_WITH_NOTICE_AND_BUFFERS,
  clinicIn,
  nextTransitions,
  postSchedule,
  type ScheduledClinic,
  saturdayNight,
} from '../helpers/schedules.js';

interface Day {
  date: string;
  dst_transition: boolean;
  slots: Array<{
    slot_id: string;
    local_start: string;
    local_end: string;
    occurrence: number;
    starts_at: string;
  }>;
}

describe('availability search', () => {
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

  const search = (clinic: ScheduledClinic, query: Record<string, string | number>) =>
    t.app.inject({
      method: 'GET',
      url: `/api/availability?${new URLSearchParams({ clinic_id: clinic.clinicId, ...Object.fromEntries(Object.entries(query).map(([k, v]) => [k, String(v)])) })}`,
      headers: clinic.patient,
    });
  const book = (clinic: ScheduledClinic, slotId: string) =>
    t.app.inject({
      method: 'POST',
      url: '/api/appointments',
      headers: { ...clinic.patient, 'idempotency-key': randomUUID() },
      payload: { slot_id: slotId },
    });
  it('lists a New York fall-back night in local time, the repeated hour as occurrence 2, and books from it', async () => {
    const clinic = await clinicIn(db.pool, 'America/New_York');
    const sunday = nextTransitions('America/New_York').fallBack;
    const saturday = Temporal.PlainDate.from(sunday).subtract({ days: 1 }).toString();
    const created = await postSchedule(t.app, clinic, saturdayNight(saturday));
    expect(created.statusCode, created.body).toBe(201);

    const found = await search(clinic, { from: saturday, to: sunday });
    expect(found.statusCode, found.body).toBe(200);
    const body = found.json() as {
      timezone: string;
      days: Day[];
      next_cursor: string | null;
      has_more: boolean;
    };
    expect(body).toMatchObject({ timezone: 'America/New_York', next_cursor: null, has_more: false });
    expect(body.days.map((d) => [d.date, d.dst_transition])).toEqual([
      [saturday, false],
      [sunday, true],
    ]);
    const local = body.days.flatMap((d) => d.slots.map((s) => [s.local_start, s.occurrence]));
    expect(local).toEqual([
      [`${saturday}T22:00:00-04:00`, 1],
      [`${saturday}T23:00:00-04:00`, 1],
      [`${sunday}T00:00:00-04:00`, 1],
      [`${sunday}T01:00:00-04:00`, 1],
      [`${sunday}T01:00:00-05:00`, 2],
      [`${sunday}T02:00:00-05:00`, 1],
      [`${sunday}T03:00:00-05:00`, 1],
      [`${sunday}T04:00:00-05:00`, 1],
      [`${sunday}T05:00:00-05:00`, 1],
    ]);
    const repeated = body.days[1]?.slots[1];
    expect(repeated).toMatchObject({ local_end: `${sunday}T01:00:00-05:00` });
    if (!repeated) throw new Error('no slot');
    expect(Date.parse(repeated.starts_at) - Date.parse(`${sunday}T01:00:00-04:00`)).toBe(0);

    const second = body.days[1]?.slots[1]?.slot_id as string;
    expect((await book(clinic, second)).statusCode).toBe(201);
    const after = (await search(clinic, { from: saturday, to: sunday })).json() as { days: Day[] };
    expect(after.days.flatMap((d) => d.slots).some((s) => s.slot_id === second)).toBe(false);
  });

  it('answers the same dates in each clinic’s own zone, however often they were searched before', async () => {
    // Madrid changes its offset on a day on which New York does not (their rules differ by weeks).
    const madrid = await clinicIn(db.pool, 'Europe/Madrid');
    const newYork = await clinicIn(db.pool, 'America/New_York');
    const change = Temporal.PlainDate.from(nextTransitions('Europe/Madrid').springForward);
    const dates = [change.subtract({ days: 1 }), change, change.add({ days: 1 })].map(String);
    const range = { from: dates[0] as string, to: dates[2] as string };
    for (const clinic of [madrid, newYork]) {
      const created = await postSchedule(t.app, clinic, {
        valid_from: range.from,
        valid_until: range.to,
        slot_minutes: 60,
        horizon_days: 366,
        rules: [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '09:00', end: '11:00' })),
      });
      expect(created.statusCode, created.body).toBe(201);
    }
    // What each answer must say, from Temporal directly.
    const expected = (timezone: string) =>
      dates.map((date) => {
        const day = Temporal.PlainDate.from(date);
        const start = day.toZonedDateTime({ timeZone: timezone });
        const end = day.add({ days: 1 }).toZonedDateTime({ timeZone: timezone });
        return {
          date,
          dst_transition: start.offsetNanoseconds !== end.offsetNanoseconds,
          slots: ['09:00', '10:00'].map((time) => {
            const local = day.toZonedDateTime({ timeZone: timezone, plainTime: time });
            return {
              starts_at: local.toInstant().toString({ fractionalSecondDigits: 3 }),
              local_start: local.toString({ timeZoneName: 'never' }),
              local_end: local.add({ hours: 1 }).toString({ timeZoneName: 'never' }),
              occurrence: 1,
            };
          }),
        };
      });
    const answer = async (clinic: ScheduledClinic) => {
      const response = await search(clinic, range);
      expect(response.statusCode, response.body).toBe(200);
      return response.json() as { days: Day[] };
    };
    const first = await answer(madrid);
    expect(first.days).toMatchObject(expected('Europe/Madrid'));
    expect(first.days.map((d) => d.dst_transition)).toEqual([false, true, false]);
    expect((await answer(newYork)).days).toMatchObject(expected('America/New_York'));
    expect(await answer(madrid)).toEqual(first);
  });

  it('pages with an opaque cursor, without gaps or repeats', async () => {
    const clinic = await clinicIn(db.pool, 'Asia/Kolkata');
    await postSchedule(t.app, clinic, {
      valid_from: '2025-01-06',
      slot_minutes: 30,
      horizon_days: 10,
      rules: [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '10:00', end: '12:00' })),
    });
    const today = Temporal.Now.plainDateISO('Asia/Kolkata');
    const range = { from: today.add({ days: 1 }).toString(), to: today.add({ days: 5 }).toString() };
    const all = (await search(clinic, { ...range, limit: 1000 })).json() as { days: Day[] };
    const everything = all.days.flatMap((d) => d.slots.map((s) => s.slot_id));
    expect(everything).toHaveLength(20);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const response = await search(clinic, { ...range, limit: 7, ...(cursor ? { cursor } : {}) });
      const page = response.json() as { days: Day[]; next_cursor: string | null; has_more: boolean };
      seen.push(...page.days.flatMap((d) => d.slots.map((s) => s.slot_id)));
      expect(page.has_more).toBe(page.next_cursor !== null);
      cursor = page.next_cursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(everything);
  });

  it('refuses more than 62 days, a foreign cursor and another clinic', async () => {
    const clinic = await clinicIn(db.pool, 'Europe/Madrid');
    const tooLong = await search(clinic, { from: '2027-01-01', to: '2027-03-04' });
    expect(tooLong.statusCode).toBe(400);
    expect(tooLong.json().code).toBe('validation_error');
    expect((await search(clinic, { from: '2027-01-01', to: '2027-03-03' })).statusCode).toBe(200);
    expect(
      (await search(clinic, { from: '2027-01-01', to: '2027-01-02', cursor: 'bm90LWEtY3Vyc29y' })).statusCode,
    ).toBe(400);
    const other = await clinicIn(db.pool, 'Europe/Madrid');
    const foreign = await t.app.inject({
      method: 'GET',
      url: `/api/availability?clinic_id=${other.clinicId}&from=2027-01-01&to=2027-01-02`,
      headers: clinic.patient,
    });
    expect(foreign.statusCode).toBe(403);
  });

  it('applies minimum notice and buffers exactly as booking does', async () => {
    const clinic = await clinicIn(db.pool, 'UTC');
    const created = await postSchedule(t.app, clinic, AROUND_THE_CLOCK_WITH_NOTICE_AND_BUFFERS);
    expect(created.statusCode, created.body).toBe(201);
    const today = Temporal.Now.plainDateISO('UTC');
    const range = { from: today.toString(), to: today.add({ days: 2 }).toString(), limit: 1000 };
    const listed = ((await search(clinic, range)).json() as { days: Day[] }).days.flatMap((d) => d.slots);
    const first = listed[0];
    if (!first) throw new Error('nothing listed');
    expect(Date.parse(first.starts_at)).toBeGreaterThan(Date.now() + 180 * 60_000);
    expect(Date.parse(first.starts_at)).toBeLessThanOrEqual(Date.now() + 210 * 60_000 + 60_000);

    const tooSoon = await db.pool.query<{ id: string }>(
      `SELECT id FROM appointment_slots WHERE practitioner_id = $1 AND starts_at > now() AND starts_at < now() + interval '170 minutes'
        ORDER BY starts_at LIMIT 1`,
      [clinic.practitionerId],
    );
    const soon = await book(clinic, tooSoon.rows[0]?.id as string);
    expect(soon.statusCode).toBe(409);
    expect(soon.json().code).toBe('slot_within_notice');

    const target = listed[4];
    const neighbour = listed[5];
    if (!target || !neighbour) throw new Error('too few slots');
    expect((await book(clinic, target.slot_id)).statusCode).toBe(201);
    const again = ((await search(clinic, range)).json() as { days: Day[] }).days.flatMap((d) => d.slots);
    const shown = new Set(again.map((s) => s.slot_id));
    expect(shown.has(neighbour.slot_id)).toBe(false);
    expect(shown.has(listed[3]?.slot_id as string)).toBe(false);
    expect(shown.has(listed[6]?.slot_id as string)).toBe(true);
    const other = await bearer({
      role: 'patient',
      clinic_id: clinic.clinicId,
      patient_id: clinic.patientIds[1],
      sub: 'p2',
    });
    const close = await t.app.inject({
      method: 'POST',
      url: '/api/appointments',
      headers: { ...other, 'idempotency-key': randomUUID() },
      payload: { slot_id: neighbour.slot_id },
    });
    expect(close.statusCode).toBe(409);
    expect(close.json().code).toBe('slot_buffer_conflict');
    // The first slot still listed is one that booking accepts.
    const desk = await bearer({ role: 'clinic_admin', clinic_id: clinic.clinicId, sub: 'desk' });
    const accepted = await t.app.inject({
      method: 'POST',
      url: '/api/appointments',
      headers: { ...desk, 'idempotency-key': randomUUID() },
      payload: { slot_id: again[0]?.slot_id, patient_id: clinic.patientIds[1] },
    });
    expect(accepted.statusCode, accepted.body).toBe(201);
  });
});
