// Date exceptions and time off of a practitioner, clinic holidays, and the slots needing review.
// Each write regenerates just the local dates it touches before answering with the summary.
import type { FastifyInstance } from 'fastify';
import { pageOf } from '../db/page.js';
import type { Pool } from '../db/pool.js';
import { cursorAfter, pageFields } from '../http/pagination.js';
import { json } from '../http/responses.js';
import { ref } from '../http/schemas.js';
import type { TypedApp } from '../http/types.js';
import * as schedules from './dated-service.js';
import {
  ClinicItemParams,
  ClinicParams,
  ExceptionInput,
  ExceptionList,
  ExceptionWithSummary,
  HolidayInput,
  HolidayList,
  HolidayWithSummary,
  ListQuery,
  PractitionerItemParams,
  PractitionerParams,
  ReviewList,
  SCHEDULE_PAGE,
  SummaryOnly,
  TimeOffInput,
  TimeOffList,
  TimeOffWithSummary,
} from './schemas.js';
import { BASE, found, LIST_PROBLEMS, staffOf, tags, WRITE_PROBLEMS } from './shared-routes.js';

export async function datedEntryRoutes(
  app: FastifyInstance,
  deps: { pool: Pool; readPool: Pool },
): Promise<void> {
  const api = app as TypedApp;
  const { pool, readPool } = deps;

  api.post(
    `${BASE}/exceptions`,
    {
      schema: {
        tags,
        operationId: 'createException',
        summary: 'Close a local date, or give it custom hours that replace the weekly rules',
        description:
          'A closed date yields no slots; custom hours replace the weekly rules for that local date. Only that date is regenerated.',
        params: PractitionerParams,
        body: ref(ExceptionInput),
        response: {
          201: json('The exception, and what regenerating that date did.', ref(ExceptionWithSummary)),
          ...WRITE_PROBLEMS,
        },
      },
    },
    async (request, reply) => {
      const { clinic_id, practitioner_id } = request.params;
      const context = staffOf(request, clinic_id);
      const result = await schedules.addException(pool, context, clinic_id, practitioner_id, request.body);
      return reply.code(201).send(found(result, 'practitioner'));
    },
  );

  api.get(
    `${BASE}/exceptions`,
    {
      schema: {
        tags,
        operationId: 'listExceptions',
        summary: "A practitioner's date exceptions",
        description: 'In id order, paginated by cursor.',
        params: PractitionerParams,
        querystring: ListQuery,
        response: { 200: json('A page of date exceptions.', ref(ExceptionList)), ...LIST_PROBLEMS },
      },
    },
    async (request) => {
      const context = staffOf(request, request.params.clinic_id);
      const limit = request.query.limit ?? SCHEDULE_PAGE.default;
      const rows = await schedules.listExceptions(
        readPool,
        context,
        request.params.practitioner_id,
        cursorAfter('exceptions', request.query.cursor),
        limit + 1,
      );
      const page = pageOf(rows, limit, (row) => row.id);
      return { exceptions: page.items, ...pageFields('exceptions', page) };
    },
  );

  api.delete(
    `${BASE}/exceptions/:id`,
    {
      schema: {
        tags,
        operationId: 'deleteException',
        summary: 'Remove a date exception and regenerate that date',
        description: 'The date follows the weekly rules again.',
        params: PractitionerItemParams,
        response: {
          200: json('Removed; what regenerating the slots did.', ref(SummaryOnly)),
          ...WRITE_PROBLEMS,
        },
      },
    },
    async (request) => {
      const { clinic_id, practitioner_id, id } = request.params;
      const context = staffOf(request, clinic_id);
      const generation = await schedules.deleteEntry(pool, context, 'exceptions', practitioner_id, id);
      return { generation: found(generation, 'exception') };
    },
  );

  api.post(
    `${BASE}/time-off`,
    {
      schema: {
        tags,
        operationId: 'createTimeOff',
        summary: 'Add time off: a local wall-clock range with no slots',
        description:
          'A local wall-clock range; the slots it overlaps are withdrawn (booked ones: needs_review).',
        params: PractitionerParams,
        body: ref(TimeOffInput),
        response: {
          201: json('The time off, and what regenerating the dates it covers did.', ref(TimeOffWithSummary)),
          ...WRITE_PROBLEMS,
        },
      },
    },
    async (request, reply) => {
      const { clinic_id, practitioner_id } = request.params;
      const context = staffOf(request, clinic_id);
      const result = await schedules.addTimeOff(pool, context, clinic_id, practitioner_id, request.body);
      return reply.code(201).send(found(result, 'practitioner'));
    },
  );

  api.get(
    `${BASE}/time-off`,
    {
      schema: {
        tags,
        operationId: 'listTimeOff',
        summary: "A practitioner's time off",
        description: 'In id order, paginated by cursor.',
        params: PractitionerParams,
        querystring: ListQuery,
        response: { 200: json('A page of time off.', ref(TimeOffList)), ...LIST_PROBLEMS },
      },
    },
    async (request) => {
      const context = staffOf(request, request.params.clinic_id);
      const limit = request.query.limit ?? SCHEDULE_PAGE.default;
      const rows = await schedules.listTimeOff(
        readPool,
        context,
        request.params.practitioner_id,
        cursorAfter('time_off', request.query.cursor),
        limit + 1,
      );
      const page = pageOf(rows, limit, (row) => row.id);
      return { time_off: page.items, ...pageFields('time_off', page) };
    },
  );

  api.delete(
    `${BASE}/time-off/:id`,
    {
      schema: {
        tags,
        operationId: 'deleteTimeOff',
        summary: 'Remove time off and regenerate the dates it covered',
        description: 'The dates it covered are regenerated from the rules.',
        params: PractitionerItemParams,
        response: {
          200: json('Removed; what regenerating the slots did.', ref(SummaryOnly)),
          ...WRITE_PROBLEMS,
        },
      },
    },
    async (request) => {
      const { clinic_id, practitioner_id, id } = request.params;
      const context = staffOf(request, clinic_id);
      const generation = await schedules.deleteEntry(pool, context, 'time_off', practitioner_id, id);
      return { generation: found(generation, 'time off') };
    },
  );

  api.post(
    '/api/clinics/:clinic_id/holidays',
    {
      schema: {
        tags,
        operationId: 'createHoliday',
        summary: 'Add a clinic holiday: no slots start that local date',
        description:
          'No practitioner of the clinic has slots on that local date; every schedule of the clinic is regenerated for it.',
        params: ClinicParams,
        body: ref(HolidayInput),
        response: {
          201: json('The holiday, and what regenerating that date did.', ref(HolidayWithSummary)),
          ...WRITE_PROBLEMS,
        },
      },
    },
    async (request, reply) => {
      const context = staffOf(request, request.params.clinic_id);
      return reply
        .code(201)
        .send(await schedules.addHoliday(pool, context, request.params.clinic_id, request.body));
    },
  );

  api.get(
    '/api/clinics/:clinic_id/holidays',
    {
      schema: {
        tags,
        operationId: 'listHolidays',
        summary: "A clinic's holidays",
        description: 'In id order, paginated by cursor.',
        params: ClinicParams,
        querystring: ListQuery,
        response: { 200: json("A page of the clinic's holidays.", ref(HolidayList)), ...LIST_PROBLEMS },
      },
    },
    async (request) => {
      const context = staffOf(request, request.params.clinic_id);
      const limit = request.query.limit ?? SCHEDULE_PAGE.default;
      const rows = await schedules.listHolidays(
        readPool,
        context,
        request.params.clinic_id,
        cursorAfter('holidays', request.query.cursor),
        limit + 1,
      );
      const page = pageOf(rows, limit, (row) => row.id);
      return { holidays: page.items, ...pageFields('holidays', page) };
    },
  );

  api.delete(
    '/api/clinics/:clinic_id/holidays/:id',
    {
      schema: {
        tags,
        operationId: 'deleteHoliday',
        summary: 'Remove a clinic holiday and regenerate that date',
        description: 'Every schedule of the clinic is regenerated for that date.',
        params: ClinicItemParams,
        response: {
          200: json('Removed; what regenerating the slots did.', ref(SummaryOnly)),
          ...WRITE_PROBLEMS,
        },
      },
    },
    async (request) => {
      const { clinic_id, id } = request.params;
      const context = staffOf(request, clinic_id);
      return { generation: found(await schedules.deleteHoliday(pool, context, clinic_id, id), 'holiday') };
    },
  );

  api.get(
    '/api/clinics/:clinic_id/slots-needing-review',
    {
      schema: {
        tags,
        operationId: 'listSlotsNeedingReview',
        summary: 'Booked slots their schedule no longer wants (never moved automatically)',
        description:
          'Cancel or reschedule the appointment, or keep it; the next regeneration follows the schedule.',
        params: ClinicParams,
        querystring: ListQuery,
        response: { 200: json('A page of booked slots needing review.', ref(ReviewList)), ...LIST_PROBLEMS },
      },
    },
    async (request) => {
      const context = staffOf(request, request.params.clinic_id);
      const limit = request.query.limit ?? SCHEDULE_PAGE.default;
      const rows = await schedules.listNeedsReview(
        readPool,
        context,
        request.params.clinic_id,
        cursorAfter('slots_needing_review', request.query.cursor),
        limit + 1,
      );
      const page = pageOf(rows, limit, (row) => row.slot_id);
      return { slots: page.items, ...pageFields('slots_needing_review', page) };
    },
  );
}
