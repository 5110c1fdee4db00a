// The booking service: thin wrappers over the procedures of 00011. Each write is one statement,
// one round trip: the tenant context and the procedure call travel together (contextSelect).
// Reads go through withTenant, so row-level security decides what a caller may see.
import { DomainError, domainCodeOf } from '../db/errors.js';
import { lostAnchor, type Page, pageOf } from '../db/page.js';
import type { Pool } from '../db/pool.js';
import { queryInContext, type TenantContext, withTenant } from '../db/tenant.js';
import type { Metrics } from '../observability/metrics.js';
import { reminderOffsetsSetting } from '../outbound/outbox.js';
import { APPOINTMENT_PAGE, type AppointmentQuery, type BookingResult } from './schemas.js';

export interface BookingDeps {
  pool: Pool;
  metrics: Metrics;
  holdMinutes: number;
  /** CAREBOOK_REMINDER_OFFSETS in seconds; the reminders staged at booking and reschedule (default 24 h, 1 h). */
  reminderOffsetsSeconds?: readonly number[];
}

export interface StoredResponse {
  status: number;
  body: BookingResult;
  replayed: boolean;
}

export interface BookInput {
  slotId: string;
  patientId: string;
  notes?: string;
  idempotencyKey: string;
}

/** Deadlocks and serialization failures are transient: the same idempotent call is retried. */
const TRANSIENT = new Set(['40P01', '40001']);
const MAX_ATTEMPTS = 3;

async function retryTransient<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= MAX_ATTEMPTS || !TRANSIENT.has((error as { code?: string }).code ?? '')) throw error;
    }
  }
}

type ProcedureRow = { response_status: number; response_body: BookingResult; replayed: boolean };

async function callStoredResponse(
  deps: BookingDeps,
  context: TenantContext,
  call: string,
  args: unknown[],
): Promise<StoredResponse> {
  const rows = await retryTransient(() =>
    queryInContext<ProcedureRow>(deps.pool, context, call, args, {
      'carebook.hold_minutes': String(deps.holdMinutes),
      ...reminderOffsetsSetting(deps.reminderOffsetsSeconds),
    }),
  );
  const row = rows[0];
  if (!row) throw new Error('the booking procedure returned no row');
  return { status: row.response_status, body: row.response_body, replayed: row.replayed };
}

/** Books a slot; records booking_attempts / conflicts / latency by outcome. */
export async function bookAppointment(
  deps: BookingDeps,
  context: TenantContext,
  input: BookInput,
): Promise<StoredResponse> {
  const started = process.hrtime.bigint();
  let outcome = 'error';
  try {
    const response = await callStoredResponse(
      deps,
      context,
      'book_appointment($1, $2, ctx.user_id, $3, $4)',
      [
        input.slotId,
        input.patientId,
        input.idempotencyKey,
        input.notes === undefined ? {} : { notes: input.notes },
      ],
    );
    outcome = response.replayed ? 'replayed' : 'created';
    return response;
  } catch (error) {
    outcome = bookingOutcomeOf(error);
    if (outcome === 'slot_unavailable') deps.metrics.bookingConflicts.inc();
    throw error;
  } finally {
    deps.metrics.bookingAttempts.inc({ outcome });
    deps.metrics.bookingDuration.observe({ outcome }, Number(process.hrtime.bigint() - started) / 1e9);
  }
}

export function rescheduleAppointment(
  deps: BookingDeps,
  context: TenantContext,
  input: { appointmentId: string; newSlotId: string; idempotencyKey: string },
): Promise<StoredResponse> {
  return callStoredResponse(deps, context, 'reschedule_appointment($1, $2, ctx.user_id, $3)', [
    input.appointmentId,
    input.newSlotId,
    input.idempotencyKey,
  ]);
}

export async function cancelAppointment(
  deps: BookingDeps,
  context: TenantContext,
  input: { appointmentId: string; reason?: string },
): Promise<BookingResult> {
  const rows = await retryTransient(() =>
    queryInContext<{ body: BookingResult }>(
      deps.pool,
      context,
      'cancel_appointment($1, ctx.user_id, $2) AS body',
      [input.appointmentId, input.reason ?? null],
    ),
  );
  return rows[0]?.body as BookingResult;
}

const SELECT_BOOKING = `
  SELECT booking_response_body(a.id) AS body FROM appointments a`;

export async function getAppointment(
  deps: BookingDeps,
  context: TenantContext,
  id: string,
): Promise<BookingResult> {
  const body = await withTenant(deps.pool, context, async (client) => {
    const result = await client.query<{ body: BookingResult }>(`${SELECT_BOOKING} WHERE a.id = $1`, [id]);
    return result.rows[0]?.body;
  });
  // The same code the procedures raise (CB004) for an appointment the caller cannot see.
  if (!body) throw new DomainError('appointment_not_found');
  return body;
}

/** A page of appointments by start time, then id, after the appointment `after` (a cursor's). */
export async function listAppointments(
  deps: BookingDeps,
  context: TenantContext,
  query: AppointmentQuery,
  after: string | null,
): Promise<Page<BookingResult>> {
  const limit = query.limit ?? APPOINTMENT_PAGE.default;
  return withTenant(deps.pool, context, async (client) => {
    const result = await client.query<{ body: BookingResult }>(
      `${SELECT_BOOKING}
        WHERE ($1::uuid IS NULL OR a.slot_id = $1) AND ($2::uuid IS NULL OR a.patient_id = $2)
          AND ($3::text IS NULL OR a.status = $3)
          AND ($4::timestamptz IS NULL OR a.starts_at >= $4) AND ($5::timestamptz IS NULL OR a.starts_at < $5)
          AND ($7::uuid IS NULL OR (a.starts_at, a.id) > (SELECT c.starts_at, c.id FROM appointments c WHERE c.id = $7))
        ORDER BY a.starts_at, a.id
        LIMIT $6 + 1`,
      [
        query.slot_id ?? null,
        query.patient_id ?? null,
        query.status ?? null,
        query.from ?? null,
        query.to ?? null,
        limit,
        after,
      ],
    );
    await lostAnchor(client, 'SELECT 1 FROM appointments WHERE id = $1', after, result.rows.length);
    return pageOf(
      result.rows.map((row) => row.body),
      limit,
      (body) => body.appointment.id,
    );
  });
}

/** Expires lapsed holds and purges old idempotency records (the sweeper's work). */
export async function sweep(
  deps: Pick<BookingDeps, 'pool' | 'metrics'>,
): Promise<{ expired: number; purged: number }> {
  const worker: TenantContext = {
    dbRole: 'carebook_worker',
    appRole: 'service',
    userId: 'sweeper',
    actor: 'sweeper',
  };
  const [expired, purged] = await withTenant(deps.pool, worker, async (client) => {
    const holds = await client.query<{ n: number }>('SELECT expire_unpaid_holds() AS n');
    const requests = await client.query<{ n: number }>('SELECT purge_expired_booking_requests() AS n');
    return [holds.rows[0]?.n ?? 0, requests.rows[0]?.n ?? 0];
  });
  deps.metrics.holdsExpired.inc(expired);
  return { expired, purged };
}

/** The booking_attempts / booking_duration outcome label of a failed booking: its domain code. */
export function bookingOutcomeOf(error: unknown): string {
  return domainCodeOf(error) ?? 'error';
}
