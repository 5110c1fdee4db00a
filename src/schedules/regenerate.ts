// Idempotent regeneration of one practitioner's future slots, under the practitioner's
// transaction-level advisory lock (released at commit: a session lock would stay behind on a
// pooled connection; test/schedules/locking.test.ts). The desired slots are compared with the
// stored ones in memory and only differences are written, so a re-run with nothing changed writes
// no row at all:
//   desired, not stored            → inserted (or a withdrawn row at that start reopened)  created
//   desired, stored the same       → nothing                                               unchanged
//   desired, stored differently    → rewritten in place if free (starts_at never moves)     created
//   stored, not desired, free      → withdrawn                                             withdrawn
//   stored, not desired, booked    → needs_review (never moved or cancelled)               needs_review
// A desired slot that would overlap a booked or hand-made slot is not created.
import { Temporal } from 'temporal-polyfill';
import type { PoolClient } from '../db/pool.js';
import { type DateRange, expandCalendar } from './expand.js';
import {
  type ExistingSlot,
  insertSlots,
  loadCalendar,
  loadFutureSlots,
  lockPractitioner,
  retireSlots,
  type SlotValues,
  type StoredSchedule,
  updateSlots,
} from './store.js';

export interface GenerationSummary {
  created: number;
  unchanged: number;
  withdrawn: number;
  needs_review: number;
}

export const emptySummary = (): GenerationSummary => ({
  created: 0,
  unchanged: 0,
  withdrawn: 0,
  needs_review: 0,
});

export function addSummaries(a: GenerationSummary, b: GenerationSummary): GenerationSummary {
  return {
    created: a.created + b.created,
    unchanged: a.unchanged + b.unchanged,
    withdrawn: a.withdrawn + b.withdrawn,
    needs_review: a.needs_review + b.needs_review,
  };
}

/** The tzdata of this process's ICU, stored on every slot it writes. */
export const TZDATA_VERSION = process.versions.tz ?? 'unknown';

export interface RegenerateOptions {
  now?: Temporal.Instant;
  /** Only windows starting on these local dates (edits that touch a few dates). */
  dates?: DateRange;
  tzdataVersion?: string;
}

function sameValues(stored: ExistingSlot, wanted: SlotValues): boolean {
  return (
    stored.status === 'open' &&
    stored.endsAt === wanted.endsAt &&
    stored.visitType === wanted.visitType &&
    stored.priceCents === wanted.priceCents &&
    stored.currency === wanted.currency &&
    stored.scheduleId === wanted.scheduleId &&
    stored.ruleId === wanted.ruleId &&
    stored.localDate === wanted.localDate &&
    stored.tzdataVersion === wanted.tzdataVersion &&
    stored.minNoticeMinutes === wanted.minNoticeMinutes &&
    stored.bufferBeforeMinutes === wanted.bufferBeforeMinutes &&
    stored.bufferAfterMinutes === wanted.bufferAfterMinutes
  );
}

/** What a booked slot promised the patient: if this differs, the booking needs review. */
function sameOffer(stored: ExistingSlot, wanted: SlotValues): boolean {
  return (
    stored.endsAt === wanted.endsAt &&
    stored.visitType === wanted.visitType &&
    stored.priceCents === wanted.priceCents &&
    stored.currency === wanted.currency
  );
}

/** Which stored row speaks for a start time: booked first, then open, then the rest. */
const rank = (slot: ExistingSlot) => (slot.booked ? 0 : slot.status === 'open' ? 1 : 2);

/**
 * Regenerates one practitioner inside the caller's transaction (`client` is in a tenant context
 * that may write the practitioner's slots). Returns null when the practitioner is not visible.
 */
export async function regeneratePractitioner(
  client: PoolClient,
  practitionerId: string,
  options: RegenerateOptions = {},
): Promise<GenerationSummary | null> {
  const now = options.now ?? Temporal.Now.instant();
  const tzdataVersion = options.tzdataVersion ?? TZDATA_VERSION;
  await lockPractitioner(client, practitionerId);
  const calendar = await loadCalendar(client, practitionerId);
  if (!calendar) return null;
  const schedules = new Map<string, StoredSchedule>(calendar.schedules.map((spec) => [spec.id, spec]));
  const desired: SlotValues[] = expandCalendar(calendar, now, options.dates).map((slot) => {
    const spec = schedules.get(slot.scheduleId) as StoredSchedule;
    // Spelled out: a spread here made this map the slowest step of a re-run (a profile, 4 µs a slot).
    return {
      startsAt: slot.startsAt,
      endsAt: slot.endsAt,
      visitType: slot.visitType,
      scheduleId: slot.scheduleId,
      ruleId: slot.ruleId,
      localDate: slot.localDate,
      priceCents: spec.priceCents,
      currency: spec.currency,
      tzdataVersion,
      minNoticeMinutes: spec.minNoticeMinutes,
      bufferBeforeMinutes: spec.bufferBeforeMinutes,
      bufferAfterMinutes: spec.bufferAfterMinutes,
    };
  });

  const stored = await loadFutureSlots(client, practitionerId, new Date(now.epochMilliseconds));
  const [first, last] = options.dates ? [options.dates.from.toString(), options.dates.to.toString()] : [];
  const inScope = (slot: ExistingSlot) =>
    slot.generated &&
    (first === undefined ||
      last === undefined ||
      (slot.localDate !== null && slot.localDate >= first && slot.localDate <= last));
  const byStart = new Map<number, ExistingSlot>();
  for (const slot of stored.filter(inScope).sort((a, b) => rank(a) - rank(b))) {
    if (!byStart.has(slot.startsAt)) byStart.set(slot.startsAt, slot);
  }

  const summary = emptySummary();
  const toInsert: SlotValues[] = [];
  const toUpdate: Array<SlotValues & { id: string }> = [];
  const toRetire = new Set<string>();
  const kept = new Set<string>();
  for (const wanted of desired) {
    const row = byStart.get(wanted.startsAt);
    if (!row) {
      toInsert.push(wanted);
      continue;
    }
    if (row.booked && !sameOffer(row, wanted)) continue; // stays booked, retired below
    kept.add(row.id);
    if (sameValues(row, wanted)) summary.unchanged += 1;
    else {
      toUpdate.push({ ...wanted, id: row.id });
      if (row.booked) summary.unchanged += 1;
      else summary.created += 1;
    }
  }
  for (const row of stored) {
    if (!inScope(row) || kept.has(row.id)) continue;
    if (row.status === 'withdrawn' || (row.status === 'needs_review' && row.booked)) continue;
    toRetire.add(row.id);
  }

  // Booked slots stay where they are; hand-made ones and those outside `dates` are not ours to
  // change: new slots keep clear of them all.
  const blockers = stored.filter(
    (row) =>
      row.booked ||
      (row.status === 'open' && !inScope(row)) ||
      (!row.generated && row.status !== 'withdrawn'),
  );
  const overlapsBlocker = (slot: SlotValues) =>
    blockers.some(
      (b) => b.startsAt < slot.endsAt && b.endsAt > slot.startsAt && byStart.get(slot.startsAt) !== b,
    );
  const inserts = toInsert.filter((slot) => !overlapsBlocker(slot));
  const updates = toUpdate.filter((slot) => {
    const row = byStart.get(slot.startsAt) as ExistingSlot;
    if (row.booked || !overlapsBlocker(slot)) return true;
    summary.created -= 1;
    if (row.status !== 'withdrawn') toRetire.add(row.id);
    return false;
  });

  const retired = await retireSlots(client, practitionerId, [...toRetire]);
  summary.withdrawn += retired.withdrawn;
  summary.needs_review += retired.needsReview;
  await updateSlots(client, practitionerId, updates);
  summary.created += await insertSlots(client, calendar.clinicId, practitionerId, inserts);
  return summary;
}
