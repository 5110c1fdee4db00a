// The DST cases of issue 12 and research/scheduling.md, expanded and printed as local times with
// offsets. test/schedules/expand.test.ts runs this file in child processes under several TZ
// values: the output must not depend on the process's zone.
import { Temporal } from 'temporal-polyfill';
import { expandWindow } from '../../src/schedules/expand.js';

export const DST_CASES = [
  {
    name: 'Madrid spring forward, 09–14',
    zone: 'Europe/Madrid',
    date: '2025-03-30',
    start: '09:00',
    end: '14:00',
    minutes: 60,
  },
  {
    name: 'New York overnight into spring forward',
    zone: 'America/New_York',
    date: '2025-03-08',
    start: '22:00',
    end: '06:00',
    minutes: 60,
  },
  {
    name: 'New York overnight into fall back',
    zone: 'America/New_York',
    date: '2025-11-01',
    start: '22:00',
    end: '06:00',
    minutes: 60,
  },
  {
    name: 'New York window starting in the gap',
    zone: 'America/New_York',
    date: '2025-03-09',
    start: '02:30',
    end: '05:00',
    minutes: 60,
  },
  {
    name: 'New York 30 min through the repeated hour',
    zone: 'America/New_York',
    date: '2025-11-02',
    start: '00:30',
    end: '03:00',
    minutes: 30,
  },
  {
    name: 'Lord Howe half-hour spring forward',
    zone: 'Australia/Lord_Howe',
    date: '2025-10-05',
    start: '00:00',
    end: '05:00',
    minutes: 60,
  },
  {
    name: 'Lord Howe half-hour fall back',
    zone: 'Australia/Lord_Howe',
    date: '2025-04-06',
    start: '01:00',
    end: '03:00',
    minutes: 30,
  },
  {
    name: 'Santiago, no midnight',
    zone: 'America/Santiago',
    date: '2025-09-07',
    start: '00:00',
    end: '03:00',
    minutes: 60,
  },
] as const;

/** Each case's slots as local starts with offset, e.g. "2025-03-30T09:00:00+02:00". */
export function expandCases(): Record<string, string[]> {
  return Object.fromEntries(
    DST_CASES.map((c) => [
      c.name,
      expandWindow(
        c.zone,
        Temporal.PlainDate.from(c.date),
        Temporal.PlainTime.from(c.start),
        Temporal.PlainTime.from(c.end),
        c.minutes,
      ).map(([startsAt]) =>
        Temporal.Instant.fromEpochMilliseconds(startsAt)
          .toZonedDateTimeISO(c.zone)
          .toString({ timeZoneName: 'never' }),
      ),
    ]),
  );
}

if (process.argv[1]?.endsWith('dst-cases.ts')) process.stdout.write(JSON.stringify(expandCases()));
