// Weekly rules → slot instants, with Temporal (research/scheduling.md §3–4). The rules:
//  - iterate local dates (PlainDate), never +24 h; a window belongs to the date it starts on;
//  - window bounds resolve with 'compatible' (a gap shifts forward, a repeated time is the earlier);
//  - candidate starts lie on the local wall-clock grid from the window's start; a start in a
//    spring-forward gap yields no slot, a repeated time one slot per occurrence;
//  - a slot lasts slot_minutes of elapsed time and must fit inside the window.
// Nothing here reads the process's time zone: every conversion names its zone.
// Fast path: a window with no offset change is plain integer arithmetic on epoch milliseconds.
import { Temporal } from 'temporal-polyfill';

const MINUTE = 60_000;

export interface WeeklyRule {
  id: string;
  /** ISO weekday of the window's start date: 1 = Monday … 7 = Sunday. */
  weekday: number;
  /** Local "HH:MM" (or "HH:MM:SS"); an end at or before the start runs into the next day. */
  start: string;
  end: string;
  everyNWeeks: number;
  visitType: string | null;
}

export interface ScheduleSpec {
  id: string;
  timezone: string;
  /** ISO dates; validUntil inclusive, null for open-ended. */
  validFrom: string;
  validUntil: string | null;
  slotMinutes: number;
  horizonDays: number;
  visitType: string;
  rules: WeeklyRule[];
}

export interface DateException {
  date: string;
  closed: boolean;
  start: string | null;
  end: string | null;
}

export interface TimeOffRange {
  /** Local wall-clock ISO date-times, e.g. 2025-08-03T00:00:00. */
  startLocal: string;
  endLocal: string;
}

export interface PractitionerCalendar {
  schedules: ScheduleSpec[];
  exceptions: DateException[];
  timeOff: TimeOffRange[];
  /** Clinic holidays (local dates). */
  holidays: string[];
}

export interface GeneratedSlot {
  scheduleId: string;
  ruleId: string | null;
  visitType: string;
  /** Local date (schedule zone) of the window the slot belongs to. */
  localDate: string;
  startsAt: number;
  endsAt: number;
}

export interface DateRange {
  from: Temporal.PlainDate;
  to: Temporal.PlainDate;
}

/**
 * A zone's next offset change after an instant, remembered per zone: no change lies between a
 * query and its answer, so a later query before that answer has the same one. Windows come in date
 * order: the polyfill's getTimeZoneTransition, asked once per window, led a profile of a re-run.
 */
export class NextTransitions {
  private readonly known = new Map<string, { after: number; next: number | null }>();

  next(timezone: string, at: Temporal.ZonedDateTime): number | null {
    const ms = at.epochMilliseconds;
    const known = this.known.get(timezone);
    if (known && ms >= known.after && (known.next === null || ms < known.next)) return known.next;
    const next = at.getTimeZoneTransition('next')?.epochMilliseconds ?? null;
    this.known.set(timezone, { after: ms, next });
    return next;
  }
}

/** The slots of one local window, in instant order. */
export function expandWindow(
  timezone: string,
  date: Temporal.PlainDate,
  start: Temporal.PlainTime,
  end: Temporal.PlainTime,
  slotMinutes: number,
  transitions = new NextTransitions(),
): Array<[number, number]> {
  const localStart = date.toPlainDateTime(start);
  const localEnd = (
    Temporal.PlainTime.compare(end, start) <= 0 ? date.add({ days: 1 }) : date
  ).toPlainDateTime(end);
  const windowStart = localStart.toZonedDateTime(timezone);
  const windowEnd = localEnd.toZonedDateTime(timezone);
  const from = windowStart.epochMilliseconds;
  const until = windowEnd.epochMilliseconds;
  const length = slotMinutes * MINUTE;
  if (until - from < length) return [];
  const out: Array<[number, number]> = [];
  const transition = transitions.next(timezone, windowStart);
  if (transition === null || transition >= until) {
    // One offset for the whole window: local time is the instant shifted by it.
    const offset = windowStart.offsetNanoseconds / 1e6;
    const anchor = wallClockMs(localStart);
    const first = Math.ceil((from + offset - anchor) / length);
    for (let local = anchor + first * length; local - offset + length <= until; local += length) {
      out.push([local - offset, local - offset + length]);
    }
    return out;
  }
  const lastWallClock = windowEnd.toPlainDateTime();
  for (let k = 0; ; k++) {
    const candidate = localStart.add({ minutes: k * slotMinutes });
    if (Temporal.PlainDateTime.compare(candidate, lastWallClock) > 0) break;
    for (const startsAt of occurrences(candidate, timezone)) {
      if (startsAt >= from && startsAt + length <= until) out.push([startsAt, startsAt + length]);
    }
  }
  // A repeated hour lists its second pass after the first; a slot longer than the repeat would
  // then overlap the next: keep the earlier one.
  out.sort((a, b) => a[0] - b[0]);
  const kept: Array<[number, number]> = [];
  for (const slot of out) if (slot[0] >= (kept.at(-1)?.[1] ?? Number.NEGATIVE_INFINITY)) kept.push(slot);
  return kept;
}

/** The instants a local date-time names in a zone: none in a gap, two in a repeated hour. */
function occurrences(local: Temporal.PlainDateTime, timezone: string): number[] {
  const earlier = local.toZonedDateTime(timezone, { disambiguation: 'earlier' });
  if (!earlier.toPlainDateTime().equals(local)) return [];
  const later = local.toZonedDateTime(timezone, { disambiguation: 'later' });
  return later.epochMilliseconds === earlier.epochMilliseconds
    ? [earlier.epochMilliseconds]
    : [earlier.epochMilliseconds, later.epochMilliseconds];
}

/** A wall-clock reading as if it were UTC: integer arithmetic on it is wall-clock arithmetic. */
function wallClockMs(local: Temporal.PlainDateTime): number {
  return Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute, local.second);
}

/** Days from 1970-01-01 to the Monday of the date's ISO week (integer arithmetic, not the polyfill's). */
function mondayEpochDay(date: Temporal.PlainDate): number {
  return Date.UTC(date.year, date.month - 1, date.day) / 86_400_000 - (date.dayOfWeek - 1);
}

/** The local dates a schedule generates today: from yesterday (its overnight windows) to the horizon. */
export function horizonOf(spec: ScheduleSpec, now: Temporal.Instant): DateRange {
  const today = now.toZonedDateTimeISO(spec.timezone).toPlainDate();
  return { from: today.subtract({ days: 1 }), to: today.add({ days: spec.horizonDays }) };
}

/**
 * Every slot the calendar wants that starts after `now`, limited to window dates in `dates` when
 * given, in instant order and without overlaps (where two windows overlap, the earlier start wins).
 */
export function expandCalendar(
  calendar: PractitionerCalendar,
  now: Temporal.Instant,
  dates?: DateRange,
): GeneratedSlot[] {
  const nowMs = now.epochMilliseconds;
  const holidays = new Set(calendar.holidays);
  const exceptions = new Map(calendar.exceptions.map((e) => [e.date, e]));
  const customHoursOwner = new Map<string, string>();
  const transitions = new NextTransitions();
  const slots: GeneratedSlot[] = [];
  for (const spec of calendar.schedules) {
    const validFrom = Temporal.PlainDate.from(spec.validFrom);
    const validUntil = spec.validUntil ? Temporal.PlainDate.from(spec.validUntil) : null;
    const anchorMonday = mondayEpochDay(validFrom);
    const horizon = horizonOf(spec, now);
    let from = laterOf(horizon.from, validFrom);
    let to = validUntil ? earlierOf(horizon.to, validUntil) : horizon.to;
    if (dates) {
      from = laterOf(from, dates.from);
      to = earlierOf(to, dates.to);
    }
    for (let date = from; Temporal.PlainDate.compare(date, to) <= 0; date = date.add({ days: 1 })) {
      const iso = date.toString();
      if (holidays.has(iso)) continue;
      const windows: Array<{ ruleId: string | null; start: string; end: string; visitType: string }> = [];
      const exception = exceptions.get(iso);
      if (exception) {
        // Custom hours replace the rules once per practitioner: the first schedule valid that date.
        if (exception.closed || !exception.start || !exception.end) continue;
        if ((customHoursOwner.get(iso) ?? spec.id) !== spec.id) continue;
        customHoursOwner.set(iso, spec.id);
        windows.push({ ruleId: null, start: exception.start, end: exception.end, visitType: spec.visitType });
      } else {
        const week = Math.floor((mondayEpochDay(date) - anchorMonday) / 7);
        for (const rule of spec.rules) {
          if (rule.weekday === date.dayOfWeek && week % rule.everyNWeeks === 0) {
            windows.push({
              ruleId: rule.id,
              start: rule.start,
              end: rule.end,
              visitType: rule.visitType ?? spec.visitType,
            });
          }
        }
      }
      for (const window of windows) {
        const start = Temporal.PlainTime.from(window.start);
        const end = Temporal.PlainTime.from(window.end);
        for (const [startsAt, endsAt] of expandWindow(
          spec.timezone,
          date,
          start,
          end,
          spec.slotMinutes,
          transitions,
        )) {
          if (startsAt <= nowMs) continue;
          slots.push({
            scheduleId: spec.id,
            ruleId: window.ruleId,
            visitType: window.visitType,
            localDate: iso,
            startsAt,
            endsAt,
          });
        }
      }
    }
  }
  const blocked = blockedRanges(calendar);
  const zoneOf = new Map(calendar.schedules.map((spec) => [spec.id, spec.timezone]));
  slots.sort((a, b) => a.startsAt - b.startsAt || a.endsAt - b.endsAt);
  const kept: GeneratedSlot[] = [];
  let lastEnd = Number.NEGATIVE_INFINITY;
  for (const slot of slots) {
    if (slot.startsAt < lastEnd) continue;
    const away = blocked.get(zoneOf.get(slot.scheduleId) ?? '') ?? [];
    if (away.some(([from, until]) => slot.startsAt < until && slot.endsAt > from)) continue;
    kept.push(slot);
    lastEnd = slot.endsAt;
  }
  return kept;
}

/** Time off as instants, per zone of the practitioner's schedules (it is wall-clock time). */
function blockedRanges(calendar: PractitionerCalendar): Map<string, Array<[number, number]>> {
  const ranges = new Map<string, Array<[number, number]>>();
  for (const zone of new Set(calendar.schedules.map((spec) => spec.timezone))) {
    ranges.set(
      zone,
      calendar.timeOff.map((off) => [
        Temporal.PlainDateTime.from(off.startLocal).toZonedDateTime(zone).epochMilliseconds,
        Temporal.PlainDateTime.from(off.endLocal).toZonedDateTime(zone).epochMilliseconds,
      ]),
    );
  }
  return ranges;
}

function laterOf(a: Temporal.PlainDate, b: Temporal.PlainDate): Temporal.PlainDate {
  return Temporal.PlainDate.compare(a, b) >= 0 ? a : b;
}

function earlierOf(a: Temporal.PlainDate, b: Temporal.PlainDate): Temporal.PlainDate {
  return Temporal.PlainDate.compare(a, b) <= 0 ? a : b;
}

/** True when the string names an IANA zone Temporal knows (tzdata of this Node); an offset such as "+05:00" is not one. */
export function isTimeZone(timezone: string): boolean {
  if (/^[+\-\u2212]/.test(timezone)) return false;
  try {
    Temporal.Now.instant().toZonedDateTimeISO(timezone);
    return true;
  } catch {
    return false;
  }
}
