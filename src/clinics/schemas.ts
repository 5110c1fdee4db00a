// Schemas of the clinic setup routes: clinics, practitioners, patients and slots.
import { type Static, Type } from 'typebox';
import { Text, Timestamp, Uuid } from '../http/schemas.js';

const Email = Type.String({ format: 'email', maxLength: 254 });
const Phone = Type.String({ pattern: '^\\+[1-9][0-9]{6,14}$', description: 'E.164, e.g. +15551234567.' });
const Currency = Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217, e.g. USD.' });
const VisitType = Type.Union([Type.Literal('in_person'), Type.Literal('video')]);

export const Clinic = Type.Object({
  id: Uuid,
  name: Type.String(),
  slug: Type.String(),
  timezone: Type.String(),
});
export const CreateClinic = Type.Object(
  {
    name: Text(200, 'Display name.'),
    slug: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{1,62}$', description: 'URL-safe handle, lower case.' }),
    timezone: Type.String({
      default: 'UTC',
      maxLength: 64,
      description: 'IANA time zone, e.g. Europe/Berlin.',
    }),
  },
  { additionalProperties: false },
);
export type CreateClinic = Static<typeof CreateClinic>;
export const ClinicList = Type.Object({ clinics: Type.Array(Clinic) });

export const StaffMember = Type.Object({
  id: Uuid,
  clinic_id: Uuid,
  role: Type.Union([Type.Literal('practitioner'), Type.Literal('staff'), Type.Literal('clinic_admin')]),
  full_name: Type.String(),
  email: Type.String(),
  phone: Type.Union([Type.String(), Type.Null()]),
});
export const CreatePractitioner = Type.Object(
  { full_name: Text(200, 'Full name.'), email: Email, phone: Type.Optional(Phone) },
  { additionalProperties: false },
);
export type CreatePractitioner = Static<typeof CreatePractitioner>;
export const PractitionerList = Type.Object({ practitioners: Type.Array(StaffMember) });

export const Patient = Type.Object({
  id: Uuid,
  clinic_id: Uuid,
  full_name: Type.String(),
  email: Type.Union([Type.String(), Type.Null()]),
  phone: Type.Union([Type.String(), Type.Null()]),
  date_of_birth: Type.Union([Type.String({ format: 'date' }), Type.Null()]),
});
export const CreatePatient = Type.Object(
  {
    full_name: Text(200, 'Full name.'),
    email: Type.Optional(Email),
    phone: Type.Optional(Phone),
    date_of_birth: Type.Optional(Type.String({ format: 'date' })),
  },
  { additionalProperties: false },
);
export type CreatePatient = Static<typeof CreatePatient>;
export const PatientList = Type.Object({ patients: Type.Array(Patient) });

export const Slot = Type.Object({
  id: Uuid,
  clinic_id: Uuid,
  practitioner_id: Uuid,
  starts_at: Timestamp,
  ends_at: Timestamp,
  visit_type: VisitType,
  price_cents: Type.Union([Type.Integer(), Type.Null()]),
  currency: Type.Union([Type.String(), Type.Null()]),
  status: Type.Union([Type.Literal('open'), Type.Literal('withdrawn')]),
  is_available: Type.Boolean(),
});
export const CreateSlot = Type.Object(
  {
    practitioner_id: Uuid,
    starts_at: Timestamp,
    ends_at: Timestamp,
    visit_type: Type.Optional(VisitType),
    price_cents: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000 })),
    currency: Type.Optional(Currency),
  },
  { additionalProperties: false },
);
export type CreateSlot = Static<typeof CreateSlot>;
export const CreateSlots = Type.Union([
  CreateSlot,
  Type.Object(
    { slots: Type.Array(CreateSlot, { minItems: 1, maxItems: 500 }) },
    { additionalProperties: false },
  ),
]);
export const SlotList = Type.Object({ slots: Type.Array(Slot) });
export const SlotQuery = Type.Object(
  {
    from: Type.Optional({
      ...Timestamp,
      description: 'Slots starting at or after this time (default: now).',
    }),
    to: Type.Optional({ ...Timestamp, description: 'Slots starting before this time.' }),
    practitioner_id: Type.Optional(Uuid),
    available: Type.Optional(Type.Boolean({ description: 'true: only slots that can be booked now.' })),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 200 }),
  },
  { additionalProperties: false },
);
export type SlotQuery = Static<typeof SlotQuery>;
