// Schemas of the clinic setup routes: clinics, practitioners, patients and slots (TypeBox: the
// service's row types come from these). Named ones are registered in app.ts.
import { type Static, Type } from 'typebox';
import { Cursor, Limit, PageFields, type PageSize } from '../http/pagination.js';
import { ref, Text, Timestamp, Uuid } from '../http/schemas.js';

const Email = Type.String({ format: 'email', maxLength: 254 });
const Phone = Type.String({ pattern: '^\\+[1-9][0-9]{6,14}$', description: 'E.164, e.g. +15551234567.' });
const Currency = Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217, e.g. USD.' });
const VisitType = Type.Enum(['in_person', 'video']);

export const DEFAULT_TIMEZONE = 'UTC';

export const Clinic = Type.Object(
  { id: Uuid, name: Type.String(), slug: Type.String(), timezone: Type.String() },
  { $id: 'Clinic' },
);
export type Clinic = Static<typeof Clinic>;
export const CreateClinic = Type.Object(
  {
    name: Text(200, 'Display name.'),
    slug: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{1,62}$', description: 'URL-safe handle, lower case.' }),
    timezone: Type.Optional(
      Type.String({
        default: DEFAULT_TIMEZONE,
        maxLength: 64,
        description: `IANA time zone, e.g. Europe/Berlin (${DEFAULT_TIMEZONE} when not given).`,
      }),
    ),
  },
  { $id: 'CreateClinic', additionalProperties: false },
);
export type CreateClinic = Static<typeof CreateClinic>;

/** Page sizes of the clinic lists: clinics, practitioners and patients. */
export const PEOPLE_PAGE: PageSize = { max: 500, default: 100 };
export const ListQuery = Type.Object(
  { limit: Limit(PEOPLE_PAGE), cursor: Cursor },
  { additionalProperties: false },
);
export type ListQuery = Static<typeof ListQuery>;
export const ClinicPage = Type.Object(
  { clinics: Type.Array(ref(Clinic)), ...PageFields },
  { $id: 'ClinicPage', description: 'Clinics by name, then id.' },
);

export const StaffMember = Type.Object(
  {
    id: Uuid,
    clinic_id: Uuid,
    role: Type.Enum(['practitioner', 'staff', 'clinic_admin']),
    full_name: Type.String(),
    // Contact details are for the clinic's own people: a patient listing practitioners gets names.
    email: Type.Optional(Type.String({ description: 'Absent when a patient asks.' })),
    phone: Type.Optional(
      Type.Union([Type.String(), Type.Null()], { description: 'Absent when a patient asks.' }),
    ),
  },
  { $id: 'StaffMember' },
);
export type StaffMember = Static<typeof StaffMember>;
export const CreatePractitioner = Type.Object(
  { full_name: Text(200, 'Full name.'), email: Email, phone: Type.Optional(Phone) },
  { $id: 'CreatePractitioner', additionalProperties: false },
);
export type CreatePractitioner = Static<typeof CreatePractitioner>;
export const PractitionerPage = Type.Object(
  { practitioners: Type.Array(ref(StaffMember)), ...PageFields },
  { $id: 'PractitionerPage', description: 'Practitioners by name, then id.' },
);

export const Patient = Type.Object(
  {
    id: Uuid,
    clinic_id: Uuid,
    full_name: Type.String(),
    email: Type.Union([Type.String(), Type.Null()]),
    phone: Type.Union([Type.String(), Type.Null()]),
    date_of_birth: Type.Union([Type.String({ format: 'date' }), Type.Null()]),
  },
  { $id: 'Patient' },
);
export type Patient = Static<typeof Patient>;
export const CreatePatient = Type.Object(
  {
    full_name: Text(200, 'Full name.'),
    email: Type.Optional(Email),
    phone: Type.Optional(Phone),
    date_of_birth: Type.Optional(Type.String({ format: 'date' })),
  },
  { $id: 'CreatePatient', additionalProperties: false },
);
export type CreatePatient = Static<typeof CreatePatient>;
export const PatientPage = Type.Object(
  { patients: Type.Array(ref(Patient)), ...PageFields },
  { $id: 'PatientPage', description: 'Patients by name, then id.' },
);

export const Slot = Type.Object(
  {
    id: Uuid,
    clinic_id: Uuid,
    practitioner_id: Uuid,
    starts_at: Timestamp,
    ends_at: Timestamp,
    visit_type: VisitType,
    price_cents: Type.Union([Type.Integer(), Type.Null()], {
      description: 'null: free (confirmed at booking).',
    }),
    currency: Type.Union([Type.String(), Type.Null()]),
    status: Type.Enum(['open', 'withdrawn', 'needs_review'], {
      description: 'needs_review: booked, but its schedule no longer wants it (staff decide).',
    }),
    is_available: Type.Boolean(),
  },
  { $id: 'Slot' },
);
export type Slot = Static<typeof Slot>;
export const CreateSlot = Type.Object(
  {
    practitioner_id: Uuid,
    starts_at: Timestamp,
    ends_at: Timestamp,
    visit_type: Type.Optional(VisitType),
    price_cents: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000 })),
    currency: Type.Optional(Currency),
  },
  { $id: 'CreateSlot', additionalProperties: false },
);
export type CreateSlot = Static<typeof CreateSlot>;
export const CreateSlots = Type.Union(
  [
    ref(CreateSlot),
    Type.Object(
      { slots: Type.Array(ref(CreateSlot), { minItems: 1, maxItems: 500 }) },
      { additionalProperties: false },
    ),
  ],
  { $id: 'CreateSlots', description: 'One slot, or {"slots": […]} (up to 500), created all-or-nothing.' },
);
export const SlotList = Type.Object(
  { slots: Type.Array(ref(Slot)) },
  { $id: 'SlotList', description: 'The slots created.' },
);

export const SLOT_PAGE: PageSize = { max: 1000, default: 200 };
export const SlotPage = Type.Object(
  { slots: Type.Array(ref(Slot)), ...PageFields },
  { $id: 'SlotPage', description: 'Slots by start time, then id.' },
);
export const SlotQuery = Type.Object(
  {
    from: Type.Optional({
      ...Timestamp,
      description: 'Slots starting at or after this time (default: now).',
    }),
    to: Type.Optional({ ...Timestamp, description: 'Slots starting before this time.' }),
    practitioner_id: Type.Optional(Uuid),
    available: Type.Optional(
      Type.Boolean({ description: 'true: only slots that can be booked now (notice and buffers included).' }),
    ),
    limit: Limit(SLOT_PAGE),
    cursor: Cursor,
  },
  { additionalProperties: false },
);
export type SlotQuery = Static<typeof SlotQuery>;

export const CLINIC_SCHEMAS = [
  Clinic,
  CreateClinic,
  ClinicPage,
  StaffMember,
  CreatePractitioner,
  PractitionerPage,
  Patient,
  CreatePatient,
  PatientPage,
  Slot,
  CreateSlot,
  CreateSlots,
  SlotList,
  SlotPage,
];
