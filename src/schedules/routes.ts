// /api/clinics/{clinic_id}/… schedules, exceptions, time off and holidays (clinic admins and staff
// of that clinic, platform admins). Every write regenerates the slots it affects before answering,
// and the answer carries the summary. Row-level security checks the clinic again in the database.
import type { FastifyInstance } from 'fastify';
import { pageOf } from '../db/page.js';
import type { Pool } from '../db/pool.js';
import { problem } from '../http/errors.js';
import { cursorAfter, pageFields } from '../http/pagination.js';
import { json } from '../http/responses.js';
import { ref } from '../http/schemas.js';
import type { TypedApp } from '../http/types.js';
import { isTimeZone } from './expand.js';
import {
  ListQuery,
  PractitionerParams,
  SCHEDULE_PAGE,
  Schedule,
  ScheduleInput,
  ScheduleList,
  ScheduleParams,
  ScheduleWithSummary,
  SummaryOnly,
} from './schemas.js';
import * as schedules from './service.js';
import { BASE, found, LIST_PROBLEMS, READ_PROBLEMS, staffOf, tags, WRITE_PROBLEMS } from './shared-routes.js';

function checkSchedule(input: ScheduleInput): void {
  if (input.timezone !== undefined && !isTimeZone(input.timezone)) {
    throw problem('validation_error', `/body/timezone: "${input.timezone}" is not an IANA time zone`);
  }
}

export async function scheduleRoutes(
  app: FastifyInstance,
  deps: { pool: Pool; readPool: Pool },
): Promise<void> {
  const api = app as TypedApp;
  const { pool, readPool } = deps;

  api.post(
    `${BASE}/schedules`,
    {
      schema: {
        tags,
        operationId: 'createSchedule',
        summary: 'Add a weekly schedule and generate its slots',
        description:
          "Weekly rules in the schedule's zone (the clinic's by default). Slots are generated at once for the horizon and the answer says how many were created; booked slots are never moved.",
        params: PractitionerParams,
        body: ref(ScheduleInput),
        response: {
          201: json('The schedule, and what regenerating its slots did.', ref(ScheduleWithSummary)),
          ...WRITE_PROBLEMS,
        },
      },
    },
    async (request, reply) => {
      const { clinic_id, practitioner_id } = request.params;
      checkSchedule(request.body);
      const context = staffOf(request, clinic_id);
      const result = await schedules.createSchedule(pool, context, clinic_id, practitioner_id, request.body);
      return reply.code(201).send(found(result, 'practitioner'));
    },
  );

  api.get(
    `${BASE}/schedules`,
    {
      schema: {
        tags,
        operationId: 'listSchedules',
        summary: "A practitioner's schedules",
        description: 'In id order, paginated by cursor.',
        params: PractitionerParams,
        querystring: ListQuery,
        response: {
          200: json("A page of the practitioner's schedules.", ref(ScheduleList)),
          ...LIST_PROBLEMS,
        },
      },
    },
    async (request) => {
      const context = staffOf(request, request.params.clinic_id);
      const limit = request.query.limit ?? SCHEDULE_PAGE.default;
      const rows = await schedules.listSchedules(
        readPool,
        context,
        request.params.practitioner_id,
        cursorAfter('schedules', request.query.cursor),
        limit + 1,
      );
      const page = pageOf(rows, limit, (row) => row.id);
      return { schedules: page.items, ...pageFields('schedules', page) };
    },
  );

  api.get(
    `${BASE}/schedules/:schedule_id`,
    {
      schema: {
        tags,
        operationId: 'getSchedule',
        summary: 'One schedule with its rules',
        description: 'The schedule as stored, its rules included.',
        params: ScheduleParams,
        response: { 200: json('The schedule with its weekly rules.', ref(Schedule)), ...READ_PROBLEMS },
      },
    },
    async (request) => {
      const { clinic_id, practitioner_id, schedule_id } = request.params;
      const context = staffOf(request, clinic_id);
      return found(await schedules.getSchedule(readPool, context, practitioner_id, schedule_id), 'schedule');
    },
  );

  api.put(
    `${BASE}/schedules/:schedule_id`,
    {
      schema: {
        tags,
        operationId: 'replaceSchedule',
        summary: 'Replace a schedule and regenerate (booked slots are never moved: needs_review)',
        description:
          'The schedule and its rules are replaced and its future slots regenerated: free slots no longer wanted are withdrawn, booked ones become needs_review.',
        params: ScheduleParams,
        body: ref(ScheduleInput),
        response: {
          200: json('The schedule, and what regenerating its slots did.', ref(ScheduleWithSummary)),
          ...WRITE_PROBLEMS,
        },
      },
    },
    async (request) => {
      const { clinic_id, practitioner_id, schedule_id } = request.params;
      checkSchedule(request.body);
      const context = staffOf(request, clinic_id);
      const result = await schedules.replaceSchedule(
        pool,
        context,
        practitioner_id,
        schedule_id,
        request.body,
      );
      return found(result, 'schedule');
    },
  );

  api.delete(
    `${BASE}/schedules/:schedule_id`,
    {
      schema: {
        tags,
        operationId: 'deleteSchedule',
        summary: 'Delete a schedule: its free slots are withdrawn, booked ones flagged needs_review',
        description:
          'Future free slots of the schedule are withdrawn; booked ones become needs_review for staff to decide.',
        params: ScheduleParams,
        response: {
          200: json('Removed; what regenerating the slots did.', ref(SummaryOnly)),
          ...WRITE_PROBLEMS,
        },
      },
    },
    async (request) => {
      const { clinic_id, practitioner_id, schedule_id } = request.params;
      const context = staffOf(request, clinic_id);
      const generation = await schedules.deleteSchedule(pool, context, practitioner_id, schedule_id);
      return { generation: found(generation, 'schedule') };
    },
  );
}
