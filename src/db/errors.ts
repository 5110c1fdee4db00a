// The domain's error vocabulary: what the database refuses (SQLSTATEs our procedures raise, named
// constraints, integrity classes) and what services refuse in TypeScript (DomainError), each named
// by one stable code. Nothing here knows HTTP: src/http/errors.ts maps each code to a status.
// docs/error_codes.md lists every code; test/http/error-codes.test.ts keeps the three in step.

/** Domain errors raised in SQL (`raise … using errcode = 'CB0nn'`). CB101 is worker-internal. */
const RAISED_IN_SQL = {
  CB001: 'slot_unavailable',
  CB002: 'slot_not_found',
  CB003: 'idempotency_key_reused',
  CB004: 'appointment_not_found',
  CB005: 'appointment_not_active',
  CB006: 'patient_not_found',
  CB007: 'patient_double_booked',
  CB008: 'reschedule_price_mismatch',
  CB201: 'slot_within_notice',
  CB202: 'slot_buffer_conflict',
} as const;

/** Invalid input that reaches PostgreSQL's own checks; the detail says which kind, never the value. */
const INVALID_INPUT: Record<string, string> = {
  '22P02': 'A value has the wrong format.',
  '22007': 'A date or time is not valid.',
  '22008': 'A date or time is out of range.',
  '22001': 'A value is too long.',
  '22009': 'A time zone offset is out of range (at most ±15:59).',
  '22021': 'Text must not contain NUL characters.',
  // Raised by our procedures for an argument they refuse (a replay reason of fewer than 3
  // characters besides spaces, as PostgreSQL counts them: an astral character is one, not two).
  '22023': 'A value is not one this operation accepts.',
};

/** Constraint violations the API can cause with valid-looking input, by constraint name. */
const CONSTRAINTS = {
  appointment_slots_no_overlap: 'slot_overlap',
  appointments_patient_no_overlap: 'patient_double_booked',
  appointments_one_active_per_slot: 'slot_unavailable',
  clinics_slug_key: 'slug_taken',
  users_clinic_id_email_key: 'email_taken',
  appointment_slots_clinic_id_practitioner_id_fkey: 'practitioner_not_found',
} as const;

/** Other integrity errors: the input broke a rule the schema enforces. */
const INTEGRITY_CLASSES = {
  '23514': 'validation_error',
  '23505': 'conflict',
  '23503': 'reference_not_found',
  '23P01': 'conflict',
} as const;

/** Refusals decided in TypeScript rather than by a SQL rule. */
type RaisedInCode =
  | 'validation_error'
  | 'invalid_cursor'
  | 'resource_not_found'
  | 'video_not_yours'
  | 'video_not_open'
  | 'video_room_not_ready';

export type DomainCode =
  | (typeof RAISED_IN_SQL)[keyof typeof RAISED_IN_SQL]
  | (typeof CONSTRAINTS)[keyof typeof CONSTRAINTS]
  | (typeof INTEGRITY_CLASSES)[keyof typeof INTEGRITY_CLASSES]
  | RaisedInCode;

/** What a service throws when it refuses a request: a code, and a detail for the caller. */
export class DomainError extends Error {
  constructor(
    readonly code: DomainCode,
    readonly detail?: string,
  ) {
    super(detail ?? code);
    this.name = 'DomainError';
  }
}

/** The domain error behind anything thrown, or null when it is not one (a bug, an outage). */
export function domainErrorOf(error: unknown): { code: DomainCode; detail?: string } | null {
  if (error instanceof DomainError) return { code: error.code, detail: error.detail };
  const candidate = error as { code?: unknown; detail?: string; message?: string; constraint?: string };
  if (typeof candidate?.code !== 'string') return null;
  const sqlstate = candidate.code;
  if (Object.hasOwn(RAISED_IN_SQL, sqlstate)) {
    return {
      code: RAISED_IN_SQL[sqlstate as keyof typeof RAISED_IN_SQL],
      detail: candidate.detail ?? candidate.message,
    };
  }
  const invalid = INVALID_INPUT[sqlstate];
  if (invalid) return { code: 'validation_error', detail: invalid };
  if (Object.hasOwn(INTEGRITY_CLASSES, sqlstate)) {
    const named =
      candidate.constraint && Object.hasOwn(CONSTRAINTS, candidate.constraint)
        ? CONSTRAINTS[candidate.constraint as keyof typeof CONSTRAINTS]
        : undefined;
    return {
      code: named ?? INTEGRITY_CLASSES[sqlstate as keyof typeof INTEGRITY_CLASSES],
      detail: candidate.constraint ? `constraint ${candidate.constraint}` : undefined,
    };
  }
  return null;
}

/** The code of a domain error, or null (metrics label their outcomes with it). */
export function domainCodeOf(error: unknown): DomainCode | null {
  return domainErrorOf(error)?.code ?? null;
}

/** Constraint names whose violation has its own code (the drift test checks each exists). */
export const NAMED_CONSTRAINTS: Readonly<Record<string, DomainCode>> = CONSTRAINTS;

// Errors that mean "the database cannot be reached, or this connection is gone" — as opposed to
// an error the database reported about a statement. pg reports a refused or dropped connection as
// a plain Error (an OS code, or only a message); the server as SQLSTATE class 08, 57P0x (shutdown,
// crash recovery, administrator command) or 53300 (too many connections).
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
]);
const UNAVAILABLE_MESSAGES =
  /^(Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error)/;

export function isDatabaseUnavailable(error: unknown): boolean {
  const candidate = error as { code?: string; message?: string } | null;
  if (!candidate) return false;
  if (candidate.code && UNAVAILABLE_CODES.has(candidate.code)) return true;
  return typeof candidate.message === 'string' && UNAVAILABLE_MESSAGES.test(candidate.message);
}
