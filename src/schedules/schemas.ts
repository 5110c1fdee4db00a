// Request and response schemas of the schedule and availability routes (TypeBox: types come from these).
// Named ones carry an $id: app.ts registers them (SCHEDULE_SCHEMAS), routes reference them.
import { type Static, Type } from 'typebox';
import { Cursor, Limit, PageFields, type PageSize } from '../http/pagination.js';
import { ref, Text, Timestamp, Uuid } from '../http/schemas.js';

const LocalDate = Type.String({
  format: 'date',
  description: 'A local date, YYYY-MM-DD (never an instant).',
});
const LocalTime = Type.String({
  pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$',
  description: 'Local wall-clock time, HH:MM.',
});
const LocalDateTime = Type.String({
  pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$',
  description: 'Local wall-clock date and time without offset, e.g. 2025-08-03T09:00.',
});
const VisitType = Type.Enum(['in_person', 'video']);
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Union([schema, Type.Null()]);

export const GenerationSummary = Type.Object(
  {
    created: Type.Integer({ description: 'Slots now offered that were not offered as they are.' }),
    unchanged: Type.Integer(),
    withdrawn: Type.Integer({ description: 'Free slots taken off the schedule.' }),
    needs_review: Type.Integer({
      description: 'Booked slots the schedule no longer wants: kept as booked, for staff to decide.',
    }),
  },
  { $id: 'GenerationSummary' },
);

export const Rule = Type.Object(
  {
    weekday: Type.Integer({ minimum: 1, maximum: 7, description: 'ISO weekday: 1 = Monday … 7 = Sunday.' }),
    start: LocalTime,
    end: { ...LocalTime, description: 'Local end, HH:MM; at or before start runs into the next day.' },
    every_n_weeks: Type.Optional(Type.Integer({ minimum: 1, maximum: 8, default: 1 })),
    visit_type: Type.Optional(VisitType),
  },
  { additionalProperties: false },
);

export const ScheduleInput = Type.Object(
  {
    timezone: Type.Optional(
      Type.String({
        maxLength: 64,
        description: "IANA zone; default: the clinic's zone at each generation.",
      }),
    ),
    valid_from: LocalDate,
    valid_until: Type.Optional(LocalDate),
    slot_minutes: Type.Integer({ minimum: 5, maximum: 720 }),
    buffer_before_minutes: Type.Optional(Type.Integer({ minimum: 0, maximum: 240, default: 0 })),
    buffer_after_minutes: Type.Optional(Type.Integer({ minimum: 0, maximum: 240, default: 0 })),
    min_notice_minutes: Type.Optional(Type.Integer({ minimum: 0, maximum: 43_200, default: 0 })),
    horizon_days: Type.Optional(Type.Integer({ minimum: 1, maximum: 366, default: 90 })),
    visit_type: Type.Optional(VisitType),
    price_cents: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000 })),
    currency: Type.Optional(Type.String({ pattern: '^[A-Z]{3}$' })),
    rules: Type.Array(Rule, { minItems: 1, maxItems: 100 }),
  },
  { $id: 'ScheduleInput', additionalProperties: false },
);
export type ScheduleInput = Static<typeof ScheduleInput>;

export const Schedule = Type.Object(
  {
    id: Uuid,
    clinic_id: Uuid,
    practitioner_id: Uuid,
    timezone: Nullable(Type.String()),
    valid_from: LocalDate,
    valid_until: Nullable(LocalDate),
    slot_minutes: Type.Integer(),
    buffer_before_minutes: Type.Integer(),
    buffer_after_minutes: Type.Integer(),
    min_notice_minutes: Type.Integer(),
    horizon_days: Type.Integer(),
    visit_type: VisitType,
    price_cents: Nullable(Type.Integer()),
    currency: Nullable(Type.String()),
    rules: Type.Array(
      Type.Object({
        id: Uuid,
        weekday: Type.Integer(),
        start: Type.String(),
        end: Type.String(),
        every_n_weeks: Type.Integer(),
        visit_type: Nullable(VisitType),
      }),
    ),
  },
  { $id: 'Schedule' },
);
export type Schedule = Static<typeof Schedule>;

export const ScheduleWithSummary = Type.Object(
  { schedule: ref(Schedule), generation: ref(GenerationSummary) },
  { $id: 'ScheduleWithSummary', description: 'A schedule, and what regenerating its slots did.' },
);
export const ScheduleList = Type.Object(
  { schedules: Type.Array(ref(Schedule)), ...PageFields },
  { $id: 'ScheduleList' },
);
export const SummaryOnly = Type.Object(
  { generation: ref(GenerationSummary) },
  { $id: 'GenerationResult', description: 'What regenerating the slots did.' },
);

/** Schedules, exceptions, time off, holidays and slots needing review: one page size. */
export const SCHEDULE_PAGE: PageSize = { max: 500, default: 100 };
export const SEARCH_PAGE: PageSize = { max: 1000, default: 500 };

export const ListQuery = Type.Object(
  { cursor: Cursor, limit: Limit(SCHEDULE_PAGE) },
  { additionalProperties: false },
);

export const PractitionerParams = Type.Object(
  { clinic_id: Uuid, practitioner_id: Uuid },
  { additionalProperties: false },
);
export const ScheduleParams = Type.Object(
  { clinic_id: Uuid, practitioner_id: Uuid, schedule_id: Uuid },
  { additionalProperties: false },
);
export const PractitionerItemParams = Type.Object(
  { clinic_id: Uuid, practitioner_id: Uuid, id: Uuid },
  { additionalProperties: false },
);
export const ClinicParams = Type.Object({ clinic_id: Uuid }, { additionalProperties: false });
export const ClinicItemParams = Type.Object({ clinic_id: Uuid, id: Uuid }, { additionalProperties: false });

export const ExceptionInput = Type.Union(
  [
    Type.Object(
      { date: LocalDate, closed: Type.Literal(true), reason: Type.Optional(Text(500, 'Why.')) },
      { additionalProperties: false },
    ),
    Type.Object(
      { date: LocalDate, start: LocalTime, end: LocalTime, reason: Type.Optional(Text(500, 'Why.')) },
      { additionalProperties: false },
    ),
  ],
  { $id: 'ExceptionInput' },
);
export type ExceptionInput = Static<typeof ExceptionInput>;
export const ScheduleException = Type.Object(
  {
    id: Uuid,
    practitioner_id: Uuid,
    date: LocalDate,
    closed: Type.Boolean(),
    start: Nullable(Type.String()),
    end: Nullable(Type.String()),
    reason: Nullable(Type.String()),
  },
  { $id: 'ScheduleException' },
);
export const ExceptionWithSummary = Type.Object(
  { exception: ref(ScheduleException), generation: ref(GenerationSummary) },
  { $id: 'ExceptionWithSummary' },
);
export const ExceptionList = Type.Object(
  { exceptions: Type.Array(ref(ScheduleException)), ...PageFields },
  { $id: 'ExceptionList' },
);

export const TimeOffInput = Type.Object(
  {
    start_local: LocalDateTime,
    end_local: LocalDateTime,
    reason: Type.Optional(Text(500, 'Why (staff only).')),
  },
  { $id: 'TimeOffInput', additionalProperties: false },
);
export type TimeOffInput = Static<typeof TimeOffInput>;
export const TimeOff = Type.Object(
  {
    id: Uuid,
    practitioner_id: Uuid,
    start_local: Type.String(),
    end_local: Type.String(),
    reason: Nullable(Type.String()),
  },
  { $id: 'TimeOff' },
);
export const TimeOffWithSummary = Type.Object(
  { time_off: ref(TimeOff), generation: ref(GenerationSummary) },
  { $id: 'TimeOffWithSummary' },
);
export const TimeOffList = Type.Object(
  { time_off: Type.Array(ref(TimeOff)), ...PageFields },
  { $id: 'TimeOffList' },
);

export const HolidayInput = Type.Object(
  { date: LocalDate, name: Type.Optional(Text(200, 'e.g. New Year.')) },
  { $id: 'HolidayInput', additionalProperties: false },
);
export type HolidayInput = Static<typeof HolidayInput>;
export const Holiday = Type.Object(
  { id: Uuid, date: LocalDate, name: Nullable(Type.String()) },
  { $id: 'Holiday' },
);
export const HolidayWithSummary = Type.Object(
  { holiday: ref(Holiday), generation: ref(GenerationSummary) },
  { $id: 'HolidayWithSummary' },
);
export const HolidayList = Type.Object(
  { holidays: Type.Array(ref(Holiday)), ...PageFields },
  { $id: 'HolidayList' },
);

export const ReviewSlot = Type.Object(
  {
    slot_id: Uuid,
    practitioner_id: Uuid,
    appointment_id: Nullable(Uuid),
    starts_at: Timestamp,
    ends_at: Timestamp,
  },
  { $id: 'ReviewSlot' },
);
export const ReviewList = Type.Object(
  { slots: Type.Array(ref(ReviewSlot)), ...PageFields },
  { $id: 'ReviewList' },
);

export const AvailabilityQuery = Type.Object(
  {
    clinic_id: Uuid,
    practitioner_id: Type.Optional(Type.Union([Uuid, Type.Array(Uuid, { maxItems: 50 })])),
    visit_type: Type.Optional(VisitType),
    from: LocalDate,
    to: { ...LocalDate, description: 'Last local date, inclusive; at most 62 days after from.' },
    cursor: Type.Optional(Type.String({ maxLength: 200, description: "The previous page's `next_cursor`." })),
    limit: Limit(SEARCH_PAGE),
  },
  { additionalProperties: false },
);
export type AvailabilityQuery = Static<typeof AvailabilityQuery>;

export const AvailableSlot = Type.Object(
  {
    slot_id: Uuid,
    practitioner_id: Uuid,
    starts_at: Timestamp,
    ends_at: Timestamp,
    local_start: Type.String({ description: 'Local time with offset, e.g. 2025-11-02T01:30:00-05:00.' }),
    local_end: Type.String(),
    occurrence: Type.Integer({
      minimum: 1,
      maximum: 2,
      description: '2 for the second pass through a repeated hour.',
    }),
  },
  { $id: 'AvailableSlot' },
);
export const Availability = Type.Object(
  {
    timezone: Type.String({ description: "The clinic's IANA zone; dates and local times are in it." }),
    days: Type.Array(
      Type.Object({
        date: LocalDate,
        dst_transition: Type.Boolean({ description: 'The UTC offset changes during this local date.' }),
        slots: Type.Array(ref(AvailableSlot)),
      }),
    ),
    ...PageFields,
  },
  { $id: 'Availability' },
);
export type Availability = Static<typeof Availability>;

/** The named schemas of these routes, registered in app.ts. */
export const SCHEDULE_SCHEMAS = [
  GenerationSummary,
  ScheduleInput,
  Schedule,
  ScheduleWithSummary,
  ScheduleList,
  SummaryOnly,
  ExceptionInput,
  ScheduleException,
  ExceptionWithSummary,
  ExceptionList,
  TimeOffInput,
  TimeOff,
  TimeOffWithSummary,
  TimeOffList,
  HolidayInput,
  Holiday,
  HolidayWithSummary,
  HolidayList,
  ReviewSlot,
  ReviewList,
  AvailableSlot,
  Availability,
];
