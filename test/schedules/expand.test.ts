// Expansion across daylight saving: exact local starts and offsets (issue 12, "Done when"), the
// same under three process zones, and properties over random schedules in random zones.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { Temporal } from 'temporal-polyfill';
import { describe, expect, it } from 'vitest';
import {
  expandCalendar,
  expandWindow,
  isTimeZone,
  NextTransitions,
  type PractitionerCalendar,
} from '../../src/schedules/expand.js';
import { expandCases } from '../helpers/dst-cases.js';

const EXPECTED: Record<string, string[]> = {
  'Madrid spring forward, 09–14': [
    '09:00+02:00',
    '10:00+02:00',
    '11:00+02:00',
    '12:00+02:00',
    '13:00+02:00',
  ].map((t) => `2025-03-30T${t.slice(0, 5)}:00${t.slice(5)}`),
  'New York overnight into spring forward': [
    '2025-03-08T22:00:00-05:00',
    '2025-03-08T23:00:00-05:00',
    '2025-03-09T00:00:00-05:00',
    '2025-03-09T01:00:00-05:00',
    '2025-03-09T03:00:00-04:00',
    '2025-03-09T04:00:00-04:00',
    '2025-03-09T05:00:00-04:00',
  ],
  'New York overnight into fall back': [
    '2025-11-01T22:00:00-04:00',
    '2025-11-01T23:00:00-04:00',
    '2025-11-02T00:00:00-04:00',
    '2025-11-02T01:00:00-04:00',
    '2025-11-02T01:00:00-05:00',
    '2025-11-02T02:00:00-05:00',
    '2025-11-02T03:00:00-05:00',
    '2025-11-02T04:00:00-05:00',
    '2025-11-02T05:00:00-05:00',
  ],
  'New York window starting in the gap': ['2025-03-09T03:30:00-04:00'],
  'New York 30 min through the repeated hour': [
    '2025-11-02T00:30:00-04:00',
    '2025-11-02T01:00:00-04:00',
    '2025-11-02T01:30:00-04:00',
    '2025-11-02T01:00:00-05:00',
    '2025-11-02T01:30:00-05:00',
    '2025-11-02T02:00:00-05:00',
    '2025-11-02T02:30:00-05:00',
  ],
  'Lord Howe half-hour spring forward': [
    '2025-10-05T00:00:00+10:30',
    '2025-10-05T01:00:00+10:30',
    '2025-10-05T03:00:00+11:00',
    '2025-10-05T04:00:00+11:00',
  ],
  'Lord Howe half-hour fall back': [
    '2025-04-06T01:00:00+11:00',
    '2025-04-06T01:30:00+11:00',
    '2025-04-06T01:30:00+10:30',
    '2025-04-06T02:00:00+10:30',
    '2025-04-06T02:30:00+10:30',
  ],
  'Santiago, no midnight': ['2025-09-07T01:00:00-03:00', '2025-09-07T02:00:00-03:00'],
};

describe('expandWindow across daylight saving', () => {
  it('gives the exact local starts and offsets of every research case', () => {
    expect(expandCases()).toEqual(EXPECTED);
    expect(EXPECTED['New York overnight into spring forward']).toHaveLength(7);
    expect(EXPECTED['New York overnight into fall back']).toHaveLength(9);
  });

  it.each(['UTC', 'America/Los_Angeles', 'Asia/Kolkata'])(
    'gives the same results in a process with TZ=%s',
    async (tz) => {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', 'test/helpers/dst-cases.ts'],
        {
          env: { ...process.env, TZ: tz },
        },
      );
      expect(JSON.parse(stdout)).toEqual(EXPECTED);
    },
  );

  it('accepts IANA zones only', () => {
    expect(['Europe/Madrid', 'America/Argentina/Buenos_Aires', 'UTC', 'Etc/GMT+5'].map(isTimeZone)).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(['+05:00', '-03:30', 'Mars/Olympus_Mons', '', 'Europe/Madrid '].map(isTimeZone)).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
  });

  it('keeps a slot longer than the repeated hour from overlapping its second pass', () => {
    const slots = expandWindow(
      'America/New_York',
      Temporal.PlainDate.from('2025-11-01'),
      Temporal.PlainTime.from('22:00'),
      Temporal.PlainTime.from('06:00'),
      90,
    );
    for (let i = 1; i < slots.length; i++)
      expect(slots[i]?.[0]).toBeGreaterThanOrEqual(slots[i - 1]?.[1] as number);
  });
});

const ZONES = [
  'America/New_York',
  'Europe/Madrid',
  'Australia/Lord_Howe',
  'America/Santiago',
  'Asia/Kolkata',
  'Australia/Sydney',
  'Pacific/Chatham',
  'UTC',
];
const hhmm = fc
  .tuple(fc.integer({ min: 0, max: 23 }), fc.constantFrom(0, 15, 30, 45))
  .map(([h, m]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`);

const calendarArbitrary = fc.record({
  zone: fc.constantFrom(...ZONES),
  slotMinutes: fc.constantFrom(15, 20, 30, 45, 60, 90),
  rules: fc.array(
    fc.record({
      weekday: fc.integer({ min: 1, max: 7 }),
      start: hhmm,
      end: hhmm,
      everyNWeeks: fc.integer({ min: 1, max: 3 }),
    }),
    { minLength: 1, maxLength: 5 },
  ),
  startDay: fc.integer({ min: 0, max: 364 }),
});

describe('expandCalendar properties', () => {
  it('puts every slot inside its window in local time, with no two overlapping', () => {
    fc.assert(
      fc.property(calendarArbitrary, ({ zone, slotMinutes, rules, startDay }) => {
        const now = Temporal.Instant.from('2025-01-01T00:00:00Z').add({ hours: startDay * 24 });
        const calendar: PractitionerCalendar = {
          schedules: [
            {
              id: 's',
              timezone: zone,
              validFrom: '2025-01-06',
              validUntil: null,
              slotMinutes,
              horizonDays: 21,
              visitType: 'in_person',
              rules: rules.map((r, i) => ({ ...r, id: `r${i}`, visitType: null })),
            },
          ],
          exceptions: [],
          timeOff: [],
          holidays: [],
        };
        const slots = expandCalendar(calendar, now);
        for (const [i, slot] of slots.entries()) {
          expect(slot.endsAt - slot.startsAt).toBe(slotMinutes * 60_000);
          expect(slot.startsAt).toBeGreaterThan(now.epochMilliseconds);
          if (i > 0) expect(slot.startsAt).toBeGreaterThanOrEqual(slots[i - 1]?.endsAt as number);
          const rule = rules[Number(slot.ruleId?.slice(1))];
          if (!rule) throw new Error('slot without a rule');
          const date = Temporal.PlainDate.from(slot.localDate);
          expect(date.dayOfWeek).toBe(rule.weekday);
          const start = Temporal.PlainTime.from(rule.start);
          const end = Temporal.PlainTime.from(rule.end);
          const endDate = Temporal.PlainTime.compare(end, start) <= 0 ? date.add({ days: 1 }) : date;
          const windowStart = date.toPlainDateTime(start).toZonedDateTime(zone).epochMilliseconds;
          const windowEnd = endDate.toPlainDateTime(end).toZonedDateTime(zone).epochMilliseconds;
          expect(slot.startsAt).toBeGreaterThanOrEqual(windowStart);
          expect(slot.endsAt).toBeLessThanOrEqual(windowEnd);
          // On the local wall-clock grid from the window's start.
          const local = Temporal.Instant.fromEpochMilliseconds(slot.startsAt)
            .toZonedDateTimeISO(zone)
            .toPlainDateTime();
          const fromStart = date.toPlainDateTime(start).until(local, { largestUnit: 'minutes' }).minutes;
          expect(fromStart % slotMinutes).toBe(0);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('honours holidays, closed dates, custom hours and time off', () => {
    const base: PractitionerCalendar = {
      schedules: [
        {
          id: 's',
          timezone: 'Europe/Madrid',
          validFrom: '2025-03-03',
          validUntil: null,
          slotMinutes: 60,
          horizonDays: 30,
          visitType: 'in_person',
          rules: [1, 2, 3, 4, 5].map((weekday) => ({
            id: `r${weekday}`,
            weekday,
            start: '09:00',
            end: '12:00',
            everyNWeeks: 1,
            visitType: null,
          })),
        },
      ],
      exceptions: [
        { date: '2025-03-11', closed: true, start: null, end: null },
        { date: '2025-03-12', closed: false, start: '15:00', end: '17:00' },
      ],
      timeOff: [{ startLocal: '2025-03-13T10:00:00', endLocal: '2025-03-13T11:00:00' }],
      holidays: ['2025-03-10'],
    };
    const now = Temporal.Instant.from('2025-03-09T12:00:00Z');
    const byDate = (date: string) =>
      expandCalendar(base, now)
        .filter((s) => s.localDate === date)
        .map((s) =>
          Temporal.Instant.fromEpochMilliseconds(s.startsAt)
            .toZonedDateTimeISO('Europe/Madrid')
            .toString({ timeZoneName: 'never' })
            .slice(11, 16),
        );
    expect(byDate('2025-03-10')).toEqual([]);
    expect(byDate('2025-03-11')).toEqual([]);
    expect(byDate('2025-03-12')).toEqual(['15:00', '16:00']);
    expect(byDate('2025-03-13')).toEqual(['09:00', '11:00']);
    expect(byDate('2025-03-14')).toEqual(['09:00', '10:00', '11:00']);
  });
});

describe('NextTransitions', () => {
  it("answers what the zone's own next transition is, whatever the order of the questions", () => {
    const yearMs = 366 * 24 * 3_600_000;
    fc.assert(
      fc.property(
        fc.constantFrom(...ZONES),
        fc.array(fc.integer({ min: 0, max: 2 * yearMs }), { minLength: 1, maxLength: 40 }),
        fc.boolean(),
        (zone, offsets, ascending) => {
          const start = Temporal.Instant.from('2025-01-01T00:00:00Z').epochMilliseconds;
          const instants = offsets.map((ms) => start + ms);
          if (ascending) instants.sort((a, b) => a - b);
          const transitions = new NextTransitions();
          for (const ms of instants) {
            const at = Temporal.Instant.fromEpochMilliseconds(ms).toZonedDateTimeISO(zone);
            const expected = at.getTimeZoneTransition('next')?.epochMilliseconds ?? null;
            expect(transitions.next(zone, at)).toBe(expected);
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});
