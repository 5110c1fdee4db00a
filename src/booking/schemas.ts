// Request and response schemas of the appointment routes (TypeBox: types come from these).
import { type Static, Type } from 'typebox';
import { Text, Timestamp, Uuid } from '../http/schemas.js';

export const AppointmentStatus = Type.Union(
  ['pending_payment', 'confirmed', 'cancelled', 'expired', 'completed', 'no_show'].map((s) =>
    Type.Literal(s),
  ),
);

export const Appointment = Type.Object({
  id: Uuid,
  clinic_id: Uuid,
  slot_id: Uuid,
  patient_id: Uuid,
  status: AppointmentStatus,
  starts_at: Timestamp,
  ends_at: Timestamp,
  visit_type: Type.Union([Type.Literal('in_person'), Type.Literal('video')]),
  hold_expires_at: Type.Union([Timestamp, Type.Null()], {
    description: 'When an unpaid hold lapses (pending_payment only).',
  }),
});

export const Payment = Type.Object({
  id: Uuid,
  status: Type.Union(
    ['pending', 'succeeded', 'failed', 'refunded', 'refund_required', 'cancelled'].map((s) =>
      Type.Literal(s),
    ),
  ),
  amount_cents: Type.Integer(),
  currency: Type.String(),
});

export const BookingResult = Type.Object({
  appointment: Appointment,
  payment: Type.Union([Payment, Type.Null()], { description: 'null for free slots (confirmed at once).' }),
});
export type BookingResult = Static<typeof BookingResult>;

export const BookRequest = Type.Object(
  {
    slot_id: Uuid,
    patient_id: Type.Optional({ ...Uuid, description: 'Required for staff; patients book for themselves.' }),
    notes: Type.Optional(Text(2000, 'Note for the practitioner. Never logged.')),
  },
  { additionalProperties: false },
);

export const RescheduleRequest = Type.Object({ new_slot_id: Uuid }, { additionalProperties: false });
export const CancelRequest = Type.Object(
  { reason: Type.Optional(Text(500, 'Why the appointment is cancelled.')) },
  { additionalProperties: false },
);

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      description: 'Unique per request (a UUID is a good choice); reuse it only to retry that request.',
    }),
  ),
});

export const AppointmentQuery = Type.Object(
  {
    slot_id: Type.Optional(Uuid),
    patient_id: Type.Optional(Uuid),
    status: Type.Optional(AppointmentStatus),
    from: Type.Optional({ ...Timestamp, description: 'Appointments starting at or after this time.' }),
    to: Type.Optional({ ...Timestamp, description: 'Appointments starting before this time.' }),
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
  },
  { additionalProperties: false },
);
export type AppointmentQuery = Static<typeof AppointmentQuery>;

export const AppointmentList = Type.Object({ appointments: Type.Array(Appointment) });
