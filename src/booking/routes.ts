// /api/appointments — thin HTTP over the booking service. The tenant comes from the token only.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { type Principal, principalOf, requireRole, tenantContext } from '../http/auth.js';
import { ProblemError, problemResponses } from '../http/errors.js';
import { IdParams } from '../http/schemas.js';
import type { TypedApp } from '../http/types.js';
import {
  AppointmentList,
  AppointmentQuery,
  BookingResult,
  BookRequest,
  CancelRequest,
  IdempotencyHeaders,
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

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

function idempotencyKeyOf(headers: { 'idempotency-key'?: string }): string {
  const key = headers['idempotency-key'];
  if (key === undefined || key === '') {
    throw new ProblemError(
      400,
      'missing_idempotency_key',
      'Idempotency-Key header required',
      'Send a unique Idempotency-Key (e.g. a UUID) with every booking request, and the same key when you retry it.',
    );
  }
  if (!IDEMPOTENCY_KEY.test(key)) {
    throw new ProblemError(
      400,
      'invalid_idempotency_key',
      'Idempotency-Key is not valid',
      'Use 1 to 255 visible ASCII characters.',
    );
  }
  return key;
}

function sendStored(reply: FastifyReply, response: StoredResponse) {
  if (response.replayed) reply.header('idempotent-replayed', 'true');
  return reply.code(response.status).send(response.body);
}

/** Patients book for themselves; staff must name the patient. */
function patientFor(principal: Principal, requested: string | undefined): string {
  if (principal.role === 'patient') {
    if (requested !== undefined && requested !== principal.patientId) {
      throw new ProblemError(403, 'forbidden', 'Patients can only book for themselves');
    }
    return principal.patientId as string;
  }
  if (requested === undefined) {
    throw new ProblemError(
      400,
      'validation_error',
      'The request is not valid',
      '/body/patient_id: required when staff book',
    );
  }
  return requested;
}

const BOOKERS = ['patient', 'staff', 'clinic_admin'] as const;

export async function appointmentRoutes(app: FastifyInstance, deps: BookingDeps): Promise<void> {
  const api = app as TypedApp;
  const tags = ['appointments'];

  api.post(
    '/api/appointments',
    {
      schema: {
        tags,
        summary: 'Book a slot',
        description:
          'Atomic: exactly one of any number of concurrent requests for a slot wins. Retrying with the same Idempotency-Key returns the original response with `Idempotent-Replayed: true`.',
        headers: IdempotencyHeaders,
        body: BookRequest,
        response: { 201: BookingResult, ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422) },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      requireRole(principal, ...BOOKERS);
      const key = idempotencyKeyOf(request.headers);
      const response = await bookAppointment(deps, tenantContext(principal), {
        slotId: request.body.slot_id,
        patientId: patientFor(principal, request.body.patient_id),
        notes: request.body.notes,
        idempotencyKey: key,
      });
      return sendStored(reply, response);
    },
  );

  api.get(
    '/api/appointments',
    {
      schema: {
        tags,
        summary: 'List appointments visible to the caller',
        querystring: AppointmentQuery,
        response: { 200: AppointmentList, ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      requireRole(principal, ...BOOKERS, 'platform_admin');
      const results = await listAppointments(deps, tenantContext(principal), request.query);
      return { appointments: results.map((result) => result.appointment) };
    },
  );

  api.get(
    '/api/appointments/:id',
    {
      schema: {
        tags,
        summary: 'One appointment with its payment',
        params: IdParams,
        response: { 200: BookingResult, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      requireRole(principal, ...BOOKERS, 'platform_admin');
      const result = await getAppointment(deps, tenantContext(principal), request.params.id);
      if (!result) throw new ProblemError(404, 'appointment_not_found', 'No such appointment');
      return result;
    },
  );

  api.post(
    '/api/appointments/:id/cancel',
    {
      schema: {
        tags,
        summary: 'Cancel an appointment (frees the slot; idempotent)',
        params: IdParams,
        body: CancelRequest,
        response: { 200: BookingResult, ...problemResponses(400, 401, 403, 404, 409) },
      },
      // The body is optional here: a bare POST cancels without a reason.
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
      schema: {
        tags,
        summary: 'Move an appointment to another free slot of the same price',
        headers: IdempotencyHeaders,
        params: IdParams,
        body: RescheduleRequest,
        response: { 200: BookingResult, ...problemResponses(400, 401, 403, 404, 409, 422) },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      requireRole(principal, ...BOOKERS);
      const response = await rescheduleAppointment(deps, tenantContext(principal), {
        appointmentId: request.params.id,
        newSlotId: request.body.new_slot_id,
        idempotencyKey: idempotencyKeyOf(request.headers),
      });
      return sendStored(reply, response);
    },
  );
}
