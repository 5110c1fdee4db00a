// What the signed-in patient (or staff) asks of the outbound side, answered on demand and never
// stored: a payment's client_secret, fetched from Stripe (or its PaymentIntent created first, as
// the worker would, when the worker has not yet), and a meeting token for a video visit — for the
// patient or the practitioner of that appointment only, only while its room is open.
import { DomainError } from '../db/errors.js';
import type { Pool } from '../db/pool.js';
import { type TenantContext, withTenant } from '../db/tenant.js';
import type { Principal } from '../http/auth.js';
import { ProviderCallError } from './clients/errors.js';
import type { OutboundServices } from './provider.js';
import type { PaymentView, VideoJoin } from './schemas.js';
import { roomWindow } from './video.js';

const PAYABLE = ['pending', 'failed'];

export async function paymentView(
  deps: { pool: Pool; services: Partial<OutboundServices> },
  context: TenantContext,
  paymentId: string,
): Promise<PaymentView> {
  const row = await withTenant(deps.pool, context, async (client) => {
    const result = await client.query<{
      id: string;
      appointment_id: string;
      status: string;
      amount_cents: number;
      currency: string;
      provider_payment_id: string | null;
      dedupe_key: string | null;
      key_version: number | null;
      create_ref: string | null;
    }>(
      `SELECT p.id, p.appointment_id, p.status, p.amount_cents, p.currency, p.provider_payment_id,
              o.dedupe_key, o.key_version, CASE WHEN o.status = 'succeeded' THEN o.provider_ref END AS create_ref
         FROM payments p LEFT JOIN outbox o ON o.payment_id = p.id AND o.kind = 'payment'
        WHERE p.id = $1`,
      [paymentId],
    );
    return result.rows[0];
  });
  if (!row) throw new DomainError('resource_not_found', 'No such payment.');
  const intentId = row.provider_payment_id ?? row.create_ref;
  const view: PaymentView = {
    id: row.id,
    appointment_id: row.appointment_id,
    status: row.status,
    amount_cents: row.amount_cents,
    currency: row.currency,
    payment_intent_id: intentId,
    client_secret: null,
    client_secret_unavailable: null,
  };
  if (!PAYABLE.includes(row.status)) {
    return { ...view, client_secret_unavailable: `the payment is ${row.status}` };
  }
  const checkout = deps.services.checkout;
  if (checkout === undefined)
    return { ...view, client_secret_unavailable: 'payments are not configured here' };
  if (row.dedupe_key === null || row.key_version === null) {
    return { ...view, client_secret_unavailable: 'the payment has no PaymentIntent to create' };
  }
  try {
    const secret = await checkout.clientSecret({
      paymentId: row.id,
      appointmentId: row.appointment_id,
      intentId,
      dedupeKey: row.dedupe_key,
      keyVersion: row.key_version,
      amountCents: row.amount_cents,
      currency: row.currency,
    });
    return { ...view, payment_intent_id: secret.intentId, client_secret: secret.clientSecret };
  } catch (error) {
    if (!(error instanceof ProviderCallError)) throw error;
    return {
      ...view,
      client_secret_unavailable: `the payment provider did not answer (${error.reason}); try again`,
    };
  }
}

/** How long one token lasts at most (the room's end is the other bound). */
const TOKEN_TTL_S = 3 * 3600;

export async function videoJoin(
  deps: { pool: Pool; services: Partial<OutboundServices> },
  context: TenantContext,
  principal: Principal,
  appointmentId: string,
): Promise<VideoJoin> {
  const row = await withTenant(deps.pool, context, async (client) => {
    const result = await client.query<{
      status: string;
      visit_type: string;
      starts_at: Date;
      ends_at: Date;
      patient_id: string;
      practitioner_id: string;
      patient_name: string;
      practitioner_name: string;
      room_status: string | null;
      room_name: string | null;
      room_url: string | null;
    }>(
      `SELECT a.status, a.visit_type, a.starts_at, a.ends_at, a.patient_id, s.practitioner_id,
              pa.full_name AS patient_name, u.full_name AS practitioner_name,
              o.status AS room_status, o.provider_ref AS room_name, o.payload ->> 'room_url' AS room_url
         FROM appointments a
         JOIN appointment_slots s ON s.id = a.slot_id
         JOIN patients pa ON pa.id = a.patient_id
         JOIN users u ON u.id = s.practitioner_id
         LEFT JOIN outbox o ON o.appointment_id = a.id AND o.kind = 'room'
        WHERE a.id = $1`,
      [appointmentId],
    );
    return result.rows[0];
  });
  if (!row) throw new DomainError('appointment_not_found');
  const isPatient = principal.role === 'patient' && principal.patientId === row.patient_id;
  const isPractitioner = principal.role !== 'patient' && principal.sub === row.practitioner_id;
  if (!isPatient && !isPractitioner) {
    throw new DomainError(
      'video_not_yours',
      'Only the patient and the practitioner of this visit can join it.',
    );
  }
  if (row.visit_type !== 'video' || row.status !== 'confirmed') {
    throw new DomainError(
      'video_not_open',
      `This is not a confirmed video visit (${row.status}, ${row.visit_type}).`,
    );
  }
  const window = roomWindow({ startsAt: row.starts_at, endsAt: row.ends_at });
  const now = Math.floor(Date.now() / 1000);
  if (now < window.nbf || now >= window.exp) {
    throw new DomainError(
      'video_not_open',
      `The room is open from ${new Date(window.nbf * 1000).toISOString()} to ${new Date(window.exp * 1000).toISOString()}.`,
    );
  }
  const tokens = deps.services.meetingTokens;
  if (
    row.room_status !== 'succeeded' ||
    row.room_name === null ||
    row.room_url === null ||
    tokens === undefined
  ) {
    throw new DomainError('video_room_not_ready', 'The room is being prepared; try again in a few seconds.');
  }
  const exp = Math.min(window.exp, now + TOKEN_TTL_S);
  const token = await tokens.mint({
    roomName: row.room_name,
    nbf: window.nbf,
    exp,
    userId: principal.sub,
    userName: isPatient ? row.patient_name : row.practitioner_name,
    // The practitioner admits the patient, who knocks.
    isOwner: isPractitioner,
  });
  return {
    room_url: row.room_url,
    token,
    expires_at: new Date(exp * 1000).toISOString(),
    is_owner: isPractitioner,
  };
}
