// Request and response schemas of the appointment routes (TypeBox: types come from these). Named
// ones carry an $id: app.ts registers them, routes reference them, OpenAPI lists them.
// Stored idempotent responses are replayed for 24 h and serialised through these schemas, so a new
// required response field would turn those replays into 500s: add fields as optional.
import { type Static, Type } from 'typebox';
import { Cursor, Limit, PageFields, type PageSize } from '../http/pagination.js';
import { ref, Text, Timestamp, Uuid } from '../http/schemas.js';

export const AppointmentStatus = Type.Enum(
  ['pending_payment', 'confirmed', 'cancelled', 'expired', 'completed', 'no_show'],
  { description: 'pending_payment holds the slot until hold_expires_at; confirmed once paid (or free).' },
);

export const Appointment = Type.Object(
  {
    id: Uuid,
    clinic_id: Uuid,
    slot_id: Uuid,
    patient_id: Uuid,
    status: AppointmentStatus,
    starts_at: Timestamp,
    ends_at: Timestamp,
    visit_type: Type.Enum(['in_person', 'video']),
    hold_expires_at: Type.Union([Timestamp, Type.Null()], {
      description: 'When an unpaid hold lapses (pending_payment only).',
    }),
  },
  { $id: 'Appointment' },
);

export const Payment = Type.Object(
  {
    id: Uuid,
    status: Type.Enum(['pending', 'succeeded', 'failed', 'refunded', 'refund_required', 'cancelled']),
    amount_cents: Type.Integer(),
    currency: Type.String({ description: 'ISO 4217, e.g. USD.' }),
  },
  { $id: 'Payment' },
);

export const BookingResult = Type.Object(
  {
    appointment: ref(Appointment),
    payment: Type.Union([ref(Payment), Type.Null()], {
      description: 'null for free slots (confirmed at once).',
    }),
  },
  { $id: 'BookingResult', description: 'An appointment with its payment.' },
);
export type BookingResult = Static<typeof BookingResult>;

export const BookRequest = Type.Object(
  {
    slot_id: Uuid,
    patient_id: Type.Optional({ ...Uuid, description: 'Required for staff; patients book for themselves.' }),
    notes: Type.Optional(Text(2000, 'Note for the practitioner. Never logged.')),
  },
  { $id: 'BookRequest', additionalProperties: false },
);

export const RescheduleRequest = Type.Object(
  { new_slot_id: Uuid },
  { $id: 'RescheduleRequest', additionalProperties: false },
);
export const CancelRequest = Type.Object(
  { reason: Type.Optional(Text(500, 'Why the appointment is cancelled.')) },
  { $id: 'CancelRequest', additionalProperties: false },
);

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.String({
    pattern: '^[\\x21-\\x7e]{1,255}$',
    description:
      'Unique per request (a UUID is a good choice; 1–255 visible ASCII characters); reuse it only to retry that request.',
  }),
});

export const IdempotentReplayed = {
  'idempotent-replayed': Type.Enum(['true'], {
    description: 'Sent when this is the stored response to an earlier request with the same key.',
  }),
};

export const APPOINTMENT_PAGE: PageSize = { max: 500, default: 100 };

export const AppointmentQuery = Type.Object(
  {
    slot_id: Type.Optional(Uuid),
    patient_id: Type.Optional(Uuid),
    status: Type.Optional(AppointmentStatus),
    from: Type.Optional({ ...Timestamp, description: 'Appointments starting at or after this time.' }),
    to: Type.Optional({ ...Timestamp, description: 'Appointments starting before this time.' }),
    limit: Limit(APPOINTMENT_PAGE),
    cursor: Cursor,
  },
  { additionalProperties: false },
);
export type AppointmentQuery = Static<typeof AppointmentQuery>;

export const AppointmentPage = Type.Object(
  { appointments: Type.Array(ref(Appointment)), ...PageFields },
  { $id: 'AppointmentPage', description: 'Appointments by start time, then id.' },
);

export const BOOKING_SCHEMAS = [
  Appointment,
  Payment,
  BookingResult,
  BookRequest,
  RescheduleRequest,
  CancelRequest,
  AppointmentPage,
];
