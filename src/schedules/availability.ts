// Availability search: bookable slots of a clinic between two local dates in the clinic's zone,
// grouped by the local date of their start, with UTC and local times. "Bookable" is decided by
// the same SQL that book_appointment asks (slot_within_notice, slot_buffer_conflict), on the same
// stored rows, so a slot shown here is a slot booking accepts — unless it was taken meanwhile, or
// this reads a replica that lags (then booking answers 409 slot_unavailable; docs/ops/schedules.md).
import { LRUCache } from 'lru-cache';
import { Temporal } from 'temporal-polyfill';
import type { Pool } from '../db/pool.js';
import { queryInContext, type TenantContext } from '../db/tenant.js';
import type { Availability } from './schemas.js';

export interface AvailabilityRequest {
  clinicId: string;
  practitionerIds: string[] | null;
  visitType: string | null;
  from: Temporal.PlainDate;
  to: Temporal.PlainDate;
  cursor: Cursor | null;
  limit: number;
}

export interface Cursor {
  startsAt: string;
  practitionerId: string;
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.startsAt, cursor.practitionerId])).toString('base64url');
}

/** The cursor, or null when it is not one of ours. */
export function decodeCursor(text: string): Cursor | null {
  try {
    const value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown;
    if (!Array.isArray(value) || value.length !== 2) return null;
    const [startsAt, practitionerId] = value as unknown[];
    if (typeof startsAt !== 'string' || Number.isNaN(Date.parse(startsAt))) return null;
    if (typeof practitionerId !== 'string' || !/^[0-9a-f-]{36}$/i.test(practitionerId)) return null;
    return { startsAt, practitionerId };
  } catch {
    return null;
  }
}

interface SlotRow {
  id: string;
  practitioner_id: string;
  starts_at: number;
  ends_at: number;
}

// Each read is one statement in the caller's context (queryInContext): role, tenant settings and a
// function call in one round trip, no BEGIN/COMMIT — the search makes two round trips in all. The
// reads are SQL functions (00017), not subqueries: row-level security is applied when a statement
// is planned, before its role switch; a function's body is planned when it runs, after it.
async function clinicTimeZone(pool: Pool, context: TenantContext, clinicId: string): Promise<string | null> {
  const rows = await queryInContext<{ timezone: string }>(pool, context, 'clinic_timezone($1)', [clinicId]);
  return rows[0]?.timezone ?? null;
}

async function bookableSlots(
  pool: Pool,
  context: TenantContext,
  request: AvailabilityRequest,
  utcStart: Date,
  utcEnd: Date,
): Promise<SlotRow[]> {
  const rows = await queryInContext<SlotRow>(
    pool,
    context,
    'available_slots($1, $2, $3, $4::uuid[], $5, $6, $7, $8)',
    [
      request.clinicId,
      utcStart,
      utcEnd,
      request.practitionerIds,
      request.visitType,
      request.cursor?.startsAt ?? null,
      request.cursor?.practitionerId ?? null,
      request.limit + 1,
    ],
  );
  // The outer statement does not promise the function's order: restore it.
  return rows.sort((a, b) => a.starts_at - b.starts_at || (a.practitioner_id < b.practitioner_id ? -1 : 1));
}

/** One local date of the zone: its bounds, and its one offset (and as text) when it has no transition. */
interface LocalDay {
  date: string;
  /** The following local date. */
  next: string;
  start: number;
  end: number;
  offset: number | null;
  offsetText: string;
}

/**
 * Local days already resolved, by zone and date: a day's bounds depend only on those and on the
 * process's tzdata, which cannot change while it runs. Resolving them with Temporal was about a
 * quarter of the CPU time spent building an answer (a profile of bench:slots).
 */
const knownDays = new LRUCache<string, LocalDay>({ max: 20_000 });

function localDay(date: string, timezone: string): LocalDay {
  const key = `${timezone} ${date}`;
  const known = knownDays.get(key);
  if (known !== undefined) return known;
  const plain = Temporal.PlainDate.from(date);
  const next = plain.add({ days: 1 });
  const start = plain.toZonedDateTime({ timeZone: timezone });
  const end = next.toZonedDateTime({ timeZone: timezone }).epochMilliseconds;
  const transition = start.getTimeZoneTransition('next');
  const steady = transition === null || transition.epochMilliseconds >= end;
  const offset = steady ? start.offsetNanoseconds / 1e6 : null;
  const day = {
    date,
    next: next.toString(),
    start: start.epochMilliseconds,
    end,
    offset,
    offsetText: offset === null ? '' : offsetText(offset),
  };
  knownDays.set(key, day);
  return day;
}

function offsetText(offsetMs: number): string {
  const minutes = Math.round(Math.abs(offsetMs) / 60_000);
  const hh = String(Math.floor(minutes / 60)).padStart(2, '0');
  const mm = String(minutes % 60).padStart(2, '0');
  return `${offsetMs < 0 ? '-' : '+'}${hh}:${mm}`;
}

/** An instant as UTC text, as local time with offset, and whether it is the second pass of a repeated time. */
interface ShownTime {
  utc: string;
  local: string;
  occurrence: number;
}

function showTime(exactMs: number, day: LocalDay, timezone: string): ShownTime {
  // PostgreSQL keeps microseconds, so a slot's epoch milliseconds can have a fraction, which
  // Temporal refuses (RangeError): times are shown to the millisecond.
  const ms = Math.floor(exactMs);
  const utc = new Date(ms).toISOString();
  if (day.offset !== null && ms >= day.start && ms < day.end) {
    // The fast path: a steady day is the instant shifted by its one offset, whose text is made
    // once per day (formatting it on every call was about 0.4 of the 2 µs a call took).
    return {
      utc,
      local: `${new Date(ms + day.offset).toISOString().slice(0, 19)}${day.offsetText}`,
      occurrence: 1,
    };
  }
  const zoned = Temporal.Instant.fromEpochMilliseconds(ms).toZonedDateTimeISO(timezone);
  const first = zoned.toPlainDateTime().toZonedDateTime(timezone, { disambiguation: 'earlier' });
  return {
    utc,
    local: zoned.toString({ timeZoneName: 'never', fractionalSecondDigits: 0 }),
    occurrence: first.epochMilliseconds === ms ? 1 : 2,
  };
}

/** null when the clinic is not visible to the caller. */
export async function searchAvailability(
  pool: Pool,
  context: TenantContext,
  request: AvailabilityRequest,
): Promise<Availability | null> {
  const timezone = await clinicTimeZone(pool, context, request.clinicId);
  if (timezone === null) return null;
  const first = localDay(request.from.toString(), timezone);
  const last = localDay(request.to.toString(), timezone);
  const rows = await bookableSlots(pool, context, request, new Date(first.start), new Date(last.end));
  const page = rows.slice(0, request.limit);
  const days: Availability['days'] = [];
  let current: Availability['days'][number] | undefined;
  let day = first;
  // Each instant is formatted once per answer: a slot's end is the next one's start, and the
  // practitioners of a clinic share their grid. (The current day only gives showTime its fast
  // path: the texts depend on the instant and the zone alone.)
  const shown = new Map<number, ShownTime>();
  const show = (ms: number) => {
    let time = shown.get(ms);
    if (time === undefined) {
      time = showTime(ms, day, timezone);
      shown.set(ms, time);
    }
    return time;
  };
  for (const row of page) {
    while (row.starts_at >= day.end) day = localDay(day.next, timezone);
    if (current?.date !== day.date) {
      current = { date: day.date, dst_transition: day.offset === null, slots: [] };
      days.push(current);
    }
    const start = show(row.starts_at);
    const end = show(row.ends_at);
    current.slots.push({
      slot_id: row.id,
      practitioner_id: row.practitioner_id,
      starts_at: start.utc,
      ends_at: end.utc,
      local_start: start.local,
      local_end: end.local,
      occurrence: start.occurrence,
    });
  }
  const lastRow = page.at(-1);
  const hasMore = rows.length > request.limit && lastRow !== undefined;
  return {
    timezone,
    days,
    next_cursor: hasMore
      ? encodeCursor({
          startsAt: new Date(lastRow.starts_at).toISOString(),
          practitionerId: lastRow.practitioner_id,
        })
      : null,
    has_more: hasMore,
  };
}
