// The outbox as queue kinds: each outbox kind (00022's outbox_kinds) is a claim–call–settle kind
// `outbox.<kind>` whose items are outbox rows with the current state of what they are about. A
// performer (stripe.ts, daily.ts, messages.ts) does one kind's provider call; this file turns its
// outcome, or the provider's classified failure, into the row's next state:
// - success, cancelled (no longer wanted) or expired (past its deadline): settled;
// - rate limited: again after the provider's Retry-After; retryable: after the backoff;
// - ambiguous where the provider has no idempotency (messages), or a message claimed after its
//   lease ran out (its worker died or stalled mid-send): needs_reconcile, looked up first on the
//   next attempt, and so until a lookup settles it; ambiguous at Stripe (a stored 500): a new key
//   version, after a lookup;
// - permanent: a dead letter (status failed), replayable by an admin.
import type { Sql } from '../db/pool.js';
import {
  type CallKind,
  type ClaimedJob,
  type KindSettings,
  PermanentError,
  QUEUE_CHANNEL,
  RetryLaterError,
} from '../queue/kind.js';
import { ProviderCallError } from './clients/errors.js';

export const OUTBOX_KINDS = [
  'payment',
  'payment_cancel',
  'refund',
  'room',
  'room_update',
  'room_delete',
  'message',
] as const;
export type OutboxKind = (typeof OUTBOX_KINDS)[number];

export const queueKindOf = (kind: OutboxKind) => `outbox.${kind}`;

/**
 * The transaction setting from which the staging triggers read CAREBOOK_REMINDER_OFFSETS
 * (outbox_reminder_offsets, 00022): every transaction that can confirm or move a booking sets it.
 */
export function reminderOffsetsSetting(offsetsSeconds: readonly number[] = []): Record<string, string> {
  return { 'carebook.reminder_offsets': offsetsSeconds.join(',') };
}

/** An outbox row as a delivery sees it: the row, and the current state of what it is about. */
export interface Delivery {
  ref: string;
  kind: OutboxKind;
  purpose: string;
  dedupeKey: string;
  keyVersion: number;
  payload: Record<string, unknown>;
  /** in_flight, or needs_reconcile when the last attempt's outcome is unknown. */
  status: string;
  attempts: number;
  providerRef: string | null;
  deadlineAt: Date | null;
  firstAttemptAt: Date;
  clinic: { id: string; name: string; timezone: string };
  appointment: {
    id: string;
    status: string;
    startsAt: Date;
    endsAt: Date;
    visitType: string;
  };
  patient: { id: string; phone: string | null; channel: string; optedOut: boolean };
  payment: {
    id: string;
    status: string;
    providerPaymentId: string | null;
  } | null;
  /** The appointment's room (its outbox row of kind room): its status and name. */
  room: { status: string | null; name: string | null };
  /** The payment's PaymentIntent creation row: its status. */
  paymentCreateStatus: string | null;
  /**
   * Messages only, when the outcome is unknown: the provider ids the patient's other message rows
   * recorded. A lookup must not take one of them for this row's (two rows can say the same thing).
   */
  recordedRefs: string[];
}

/** What a delivery did. `payload` is merged into the row's (what the effect needs to be recognised). */
export interface Outcome {
  status: 'succeeded' | 'cancelled' | 'expired';
  ref?: string | null;
  note: string;
  payload?: Record<string, unknown>;
}

/** The call's outcome is unknown and no key deduplicates it: look it up before any resend. */
export class ReconcileFirstError extends RetryLaterError {
  override name = 'ReconcileFirstError';
}

/** Stripe holds a stored failure for this key: the next attempt looks up, then uses a new key version. */
export class NewKeyVersionError extends Error {
  override name = 'NewKeyVersionError';
}

export interface Performer {
  kind: OutboxKind;
  /** The provider it calls, for the not-configured warnings. */
  provider: string;
  settings?: Partial<KindSettings>;
  /**
   * Values fixed at the first attempt and stored before the call (a room's name, a message as
   * sent), so that every retry sends, and every lookup looks for, the same thing.
   */
  freeze?(delivery: Delivery): Record<string, unknown> | null;
  perform(delivery: Delivery, signal: AbortSignal): Promise<Outcome>;
}

/** Settings every outbox kind starts from: a client timeout (20 s) well inside the lease. */
export const OUTBOX_SETTINGS: KindSettings = {
  batchSize: 10,
  concurrency: 1,
  leaseSeconds: 60,
  maxAttempts: 12,
  backoff: { baseSeconds: 5, capSeconds: 900 },
};

/** Provider client timeout; shortened to a third of the lease when that is shorter. */
export const CLIENT_TIMEOUT_MS = 20_000;

interface DeliveryRow {
  id: string;
  kind: OutboxKind;
  purpose: string;
  dedupe_key: string;
  key_version: number;
  payload: Record<string, unknown>;
  status: string;
  attempts: number;
  provider_ref: string | null;
  deadline_at: Date | null;
  first_attempt_at: Date;
  clinic_id: string;
  clinic_name: string;
  clinic_timezone: string;
  appointment_id: string;
  appointment_status: string;
  starts_at: Date;
  ends_at: Date;
  visit_type: string;
  video_room_name: string | null;
  patient_id: string;
  patient_phone: string | null;
  message_channel: string;
  opted_out: boolean;
  payment_id: string | null;
  payment_status: string | null;
  amount_cents: number | null;
  currency: string | null;
  provider_payment_id: string | null;
  room_status: string | null;
  room_ref: string | null;
  payment_create_status: string | null;
}

function deliveryOf(row: DeliveryRow): Delivery {
  return {
    ref: row.id,
    kind: row.kind,
    purpose: row.purpose,
    dedupeKey: row.dedupe_key,
    keyVersion: row.key_version,
    payload: row.payload,
    status: row.status,
    attempts: row.attempts,
    providerRef: row.provider_ref,
    deadlineAt: row.deadline_at,
    firstAttemptAt: row.first_attempt_at,
    clinic: { id: row.clinic_id, name: row.clinic_name, timezone: row.clinic_timezone },
    appointment: {
      id: row.appointment_id,
      status: row.appointment_status,
      startsAt: row.starts_at,
      endsAt: row.ends_at,
      visitType: row.visit_type,
    },
    patient: {
      id: row.patient_id,
      phone: row.patient_phone,
      channel: row.message_channel,
      optedOut: row.opted_out,
    },
    payment:
      row.payment_id === null
        ? null
        : {
            id: row.payment_id,
            status: row.payment_status ?? '',
            providerPaymentId: row.provider_payment_id,
          },
    room: { status: row.room_status, name: row.room_ref },
    paymentCreateStatus: row.payment_create_status,
    recordedRefs: [],
  };
}

/** The provider's classified failure as the queue's: when and whether to try again. */
function asQueueFailure(error: unknown, reconciles: boolean): unknown {
  if (!(error instanceof ProviderCallError)) return error;
  switch (error.classification) {
    case 'rate_limited':
      return new RetryLaterError(
        error.message,
        Math.max(1, Math.ceil((error.retryAfterMs ?? 30_000) / 1000)),
      );
    case 'permanent':
      return new PermanentError(error.message);
    case 'ambiguous':
      // Messages have no idempotency key: never resend before a lookup. Stripe replays its stored
      // answer for the key: a new key version, once a lookup finds nothing.
      return reconciles ? new ReconcileFirstError(error.message, 60) : new NewKeyVersionError(error.message);
    default:
      return error;
  }
}

/**
 * Messages claimed after a lease ran out: the worker that had them died or stalled during the
 * send, which may have gone. Neither provider deduplicates, so they are looked up first.
 */
async function markUnknownOutcomes(sql: Sql, deliveries: Delivery[], jobs: readonly ClaimedJob[]) {
  const unsettled = new Set(jobs.filter((job) => job.alone).map((job) => job.ref));
  const unknown = deliveries.filter((d) => unsettled.has(d.ref) && d.status === 'in_flight');
  if (unknown.length === 0) return;
  for (const delivery of unknown) delivery.status = 'needs_reconcile';
  await sql.query(`UPDATE outbox SET status = 'needs_reconcile' WHERE id = ANY ($1::uuid[])`, [
    unknown.map((d) => d.ref),
  ]);
}

/** Fills `recordedRefs` of the deliveries about to be looked up. */
async function loadRecordedRefs(sql: Sql, deliveries: Delivery[]): Promise<void> {
  const lookups = deliveries.filter((d) => d.status === 'needs_reconcile' && d.providerRef === null);
  if (lookups.length === 0) return;
  const result = await sql.query<{ patient_id: string; refs: string[] }>(
    `SELECT a.patient_id, array_agg(o.provider_ref) AS refs
       FROM appointments a JOIN outbox o ON o.appointment_id = a.id
      WHERE a.patient_id = ANY ($1::uuid[]) AND o.kind = 'message' AND o.provider_ref IS NOT NULL
      GROUP BY a.patient_id`,
    [[...new Set(lookups.map((d) => d.patient.id))]],
  );
  const byPatient = new Map(result.rows.map((row) => [row.patient_id, row.refs]));
  for (const delivery of lookups) delivery.recordedRefs = byPatient.get(delivery.patient.id) ?? [];
}

/** The next status of a row whose attempt failed (fail_outbox). */
function failedStatus(status: 'failed' | 'dead_letter', thrown: unknown): string {
  if (status === 'dead_letter') return 'failed';
  if (thrown instanceof ReconcileFirstError) return 'needs_reconcile';
  if (thrown instanceof NewKeyVersionError) return 'pending_new_key';
  return 'pending';
}

/** The outbox rows of replayed jobs go back to be delivered (replay_outbox, 00025). */
export async function recordOutboxReplay(sql: Sql, refs: string[]): Promise<void> {
  await sql.query('SELECT replay_outbox($1::uuid[])', [refs]);
}

/** The queue kind that delivers one outbox kind through its performer. */
export function outboxKind(
  performer: Performer,
  leaseSeconds = OUTBOX_SETTINGS.leaseSeconds,
): CallKind<Delivery, Outcome> {
  const name = queueKindOf(performer.kind);
  const reconciles = performer.kind === 'message';
  return {
    name,
    mode: 'claim_call_settle',
    settings: { ...OUTBOX_SETTINGS, leaseSeconds, ...performer.settings },
    wake: { channel: QUEUE_CHANNEL, payload: name },
    async load(sql: Sql, jobs) {
      const result = await sql.query<DeliveryRow>('SELECT * FROM outbox_deliveries($1::uuid[])', [
        jobs.map((job) => job.ref),
      ]);
      const deliveries = result.rows.map(deliveryOf);
      if (reconciles) {
        await markUnknownOutcomes(sql, deliveries, jobs);
        await loadRecordedRefs(sql, deliveries);
      }
      const frozen = deliveries.flatMap((delivery) => {
        const values = performer.freeze?.(delivery) ?? null;
        if (values === null) return [];
        delivery.payload = { ...delivery.payload, ...values };
        return [{ ref: delivery.ref, values }];
      });
      if (frozen.length > 0) {
        await sql.query(
          `UPDATE outbox o SET payload = o.payload || f.values
             FROM unnest($1::uuid[], $2::jsonb[]) AS f(id, values) WHERE o.id = f.id`,
          [frozen.map((f) => f.ref), frozen.map((f) => JSON.stringify(f.values))],
        );
      }
      return deliveries;
    },
    async call(delivery, _job, signal) {
      if (delivery.deadlineAt !== null && delivery.deadlineAt.getTime() <= Date.now()) {
        return {
          status: 'expired',
          note: `not delivered by its deadline ${delivery.deadlineAt.toISOString()}`,
        };
      }
      try {
        return await performer.perform(delivery, signal);
      } catch (error) {
        const failure = asQueueFailure(error, reconciles);
        // Until a lookup settles it, a row whose send may have gone stays one: whatever fails
        // next (a lookup that must wait, a timeout), the attempt after it looks up again.
        if (delivery.status === 'needs_reconcile' && !(failure instanceof PermanentError)) {
          const message = failure instanceof Error ? failure.message : String(failure);
          const after = failure instanceof RetryLaterError ? failure.retryAfterSeconds : 60;
          throw failure instanceof ReconcileFirstError ? failure : new ReconcileFirstError(message, after);
        }
        throw failure;
      }
    },
    async recordSuccess(sql, done) {
      await sql.query('SELECT settle_outbox($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[])', [
        done.map((d) => d.item.ref),
        done.map((d) => d.result.status),
        done.map((d) => d.result.ref ?? null),
        done.map((d) => d.result.note),
        done.map((d) => JSON.stringify(d.result.payload ?? {})),
      ]);
    },
    async recordFailure(sql, failed) {
      await sql.query('SELECT fail_outbox($1::uuid[], $2::text[], $3::text[])', [
        failed.map((f) => f.ref),
        failed.map((f) => failedStatus(f.status, f.thrown)),
        failed.map((f) => f.error),
      ]);
    },
    recordReplay: recordOutboxReplay,
  };
}
