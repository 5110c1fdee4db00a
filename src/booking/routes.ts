// /api/appointments — thin HTTP over the booking service. The tenant comes from the token only.
import type { RateLimitOptions } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { type Principal, principalOf, requireRole, tenantContext } from '../http/auth.js';
import { problem } from '../http/errors.js';
import { cursorAfter, pageFields } from '../http/pagination.js';
import { AUTHENTICATED, DATABASE, JSON_BODY, json, problemResponses } from '../http/responses.js';
import { IdParams, ref } from '../http/schemas.js';
import type { TypedApp } from '../http/types.js';
import {
  AppointmentPage,
  AppointmentQuery,
  BookingResult,
  BookRequest,
  CancelRequest,
  IdempotencyHeaders,
  IdempotentReplayed,
  RescheduleRequest,
} from './schemas.js';
import {
  type BookingDeps,
  bookAppointment,
  cancelAppointment,
  getAppointment,
  listAppointments,
  rescheduleAppointment,
  type StoredResponse,
} from './service.js';

function sendStored(reply: FastifyReply, response: StoredResponse) {
  if (response.replayed) reply.header('idempotent-replayed', 'true');
  return reply.code(response.status).send(response.body);
}

/** Patients book for themselves; staff must name the patient. */
function patientFor(principal: Principal, requested: string | undefined): string {
  if (principal.role === 'patient') {
    if (requested !== undefined && requested !== principal.patientId) {
      throw problem('forbidden', 'Patients can only book for themselves.');
    }
    return principal.patientId as string;
  }
  if (requested === undefined)
    throw problem('validation_error', '/body/patient_id: required when staff book');
  return requested;
}

const BOOKERS = ['patient', 'staff', 'clinic_admin'] as const;
/** What the procedures of 00011 raise, besides validation (docs/error_codes.md). */
const IDEMPOTENT = ['missing_idempotency_key', 'invalid_idempotency_key', 'idempotency_key_reused'] as const;

export interface AppointmentRouteOptions extends BookingDeps {
  /** @fastify/rate-limit settings for booking attempts (book, reschedule), per token subject. */
  rateLimit?: RateLimitOptions;
}

export async function appointmentRoutes(app: FastifyInstance, deps: AppointmentRouteOptions): Promise<void> {
  const api = app as TypedApp;
  const tags = ['appointments'];
  const limited = { rateLimit: deps.rateLimit ?? (false as const) };

  api.post(
    '/api/appointments',
    {
      config: limited,
      schema: {
        operationId: 'bookAppointment',
        tags,
        summary: 'Book a slot',
        description:
          'Atomic: exactly one of any number of concurrent requests for a slot wins. Retrying with the same Idempotency-Key returns the original response with `Idempotent-Replayed: true`.',
        headers: IdempotencyHeaders,
        body: ref(BookRequest),
        response: {
          201: json(
            'Booked: pending_payment with a pending payment when the slot is priced (the slot is held until hold_expires_at), confirmed with no payment when it is free.',
            ref(BookingResult),
            IdempotentReplayed,
          ),
          ...problemResponses(
            ...JSON_BODY,
            ...AUTHENTICATED,
            ...DATABASE,
            ...IDEMPOTENT,
            'forbidden',
            'slot_not_found',
            'patient_not_found',
            'slot_unavailable',
            'slot_within_notice',
            'slot_buffer_conflict',
            'patient_double_booked',
          ),
        },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      requireRole(principal, ...BOOKERS);
      const response = await bookAppointment(deps, tenantContext(principal), {
        slotId: request.body.slot_id,
        patientId: patientFor(principal, request.body.patient_id),
        notes: request.body.notes,
        idempotencyKey: request.headers['idempotency-key'],
      });
      return sendStored(reply, response);
    },
  );

  api.get(
    '/api/appointments',
    {
      schema: {
        operationId: 'listAppointments',
        tags,
        summary: 'List appointments visible to the caller',
        description: 'Patients see their own appointments, staff those of their clinic. Paginated by cursor.',
        querystring: AppointmentQuery,
        response: {
          200: json('A page of appointments, by start time.', ref(AppointmentPage)),
          ...problemResponses(
            'validation_error',
            'invalid_cursor',
            'forbidden',
            ...AUTHENTICATED,
            ...DATABASE,
          ),
        },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      requireRole(principal, ...BOOKERS, 'platform_admin');
      const after = cursorAfter('appointments', request.query.cursor);
      const page = await listAppointments(deps, tenantContext(principal), request.query, after);
      return {
        appointments: page.items.map((result) => result.appointment),
        ...pageFields('appointments', page),
      };
    },
  );

  api.get(
    '/api/appointments/:id',
    {
      schema: {
        operationId: 'getAppointment',
        tags,
        summary: 'One appointment with its payment',
        description: 'Patients see only their own appointments: another one is 404, as if it did not exist.',
        params: IdParams,
        response: {
          200: json('The appointment and its payment (null for a free slot).', ref(BookingResult)),
          ...problemResponses(
            'validation_error',
            'forbidden',
            'appointment_not_found',
            ...AUTHENTICATED,
            ...DATABASE,
          ),
        },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      requireRole(principal, ...BOOKERS, 'platform_admin');
      return getAppointment(deps, tenantContext(principal), request.params.id);
    },
  );

  api.post(
    '/api/appointments/:id/cancel',
    {
      schema: {
        operationId: 'cancelAppointment',
        tags,
        summary: 'Cancel an appointment (frees the slot; idempotent)',
        description:
          'The body is optional: a bare POST cancels without a reason. A pending payment is cancelled with it, a collected one marked refund_required; cancelling a cancelled appointment answers the same again.',
        params: IdParams,
        body: ref(CancelRequest),
        'x-body-optional': true,
        response: {
          200: json('The cancelled appointment and its payment.', ref(BookingResult)),
          ...problemResponses(
            ...JSON_BODY,
            ...AUTHENTICATED,
            ...DATABASE,
            'forbidden',
            'appointment_not_found',
            'appointment_not_active',
          ),
        },
      },
      // The optional body (x-body-optional): a bare POST is a cancel without a reason.
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request) => {
      const principal = principalOf(request);
      requireRole(principal, ...BOOKERS);
      return cancelAppointment(deps, tenantContext(principal), {
        appointmentId: request.params.id,
        reason: request.body?.reason,
      });
    },
  );

  api.post(
    '/api/appointments/:id/reschedule',
    {
      config: limited,
      schema: {
        operationId: 'rescheduleAppointment',
        tags,
        summary: 'Move an appointment to another free slot of the same price',
        description:
          'Atomic: the old slot is freed and the new one taken in one transaction; the appointment keeps its id and its payment. Needs an Idempotency-Key, as booking does.',
        headers: IdempotencyHeaders,
        params: IdParams,
        body: ref(RescheduleRequest),
        response: {
          200: json(
            'The appointment in its new slot, and its payment.',
            ref(BookingResult),
            IdempotentReplayed,
          ),
          ...problemResponses(
            ...JSON_BODY,
            ...AUTHENTICATED,
            ...DATABASE,
            ...IDEMPOTENT,
            'forbidden',
            'appointment_not_found',
            'slot_not_found',
            'appointment_not_active',
            'slot_unavailable',
            'reschedule_price_mismatch',
            'slot_within_notice',
            'slot_buffer_conflict',
            'patient_double_booked',
          ),
        },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      requireRole(principal, ...BOOKERS);
      const response = await rescheduleAppointment(deps, tenantContext(principal), {
        appointmentId: request.params.id,
        newSlotId: request.body.new_slot_id,
        idempotencyKey: request.headers['idempotency-key'],
      });
      return sendStored(reply, response);
    },
  );
}
