// Every error leaves as application/problem+json (RFC 9457) with a stable `code`. This is the one
// place where domain errors (SQL errcodes raised by our procedures) become HTTP statuses.
// 5xx responses never echo internal messages.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';

export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly detail?: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail ?? title);
    this.name = 'ProblemError';
  }
}

export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String({ description: 'Stable machine-readable error code.' }),
    detail: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  },
  { additionalProperties: true, description: 'RFC 9457 problem details.' },
);

/** Response schemas for the given error statuses, for a route's `response` (and the OpenAPI document). */
export function problemResponses(...statuses: number[]): Record<number, typeof ProblemSchema> {
  return Object.fromEntries(statuses.map((status) => [status, ProblemSchema]));
}

interface Mapping {
  status: number;
  code: string;
  title: string;
}

/** Domain errors raised in SQL (`raise … using errcode = 'CB0nn'`); docs/error_codes.md lists them. */
const SQL_ERRORS: Record<string, Mapping> = {
  CB001: { status: 409, code: 'slot_unavailable', title: 'The slot is not available' },
  CB002: { status: 404, code: 'slot_not_found', title: 'No such slot' },
  CB003: {
    status: 422,
    code: 'idempotency_key_reused',
    title: 'The Idempotency-Key belongs to another request',
  },
  CB004: { status: 404, code: 'appointment_not_found', title: 'No such appointment' },
  CB005: {
    status: 409,
    code: 'appointment_not_active',
    title: 'The appointment cannot be changed in its current state',
  },
  CB006: { status: 404, code: 'patient_not_found', title: 'No such patient' },
  CB007: {
    status: 409,
    code: 'patient_double_booked',
    title: 'The patient already has an appointment at that time',
  },
  CB008: { status: 409, code: 'reschedule_price_mismatch', title: 'The new slot has a different price' },
  '22P02': { status: 400, code: 'validation_error', title: 'A value has the wrong format' },
  '22007': { status: 400, code: 'validation_error', title: 'A date or time is not valid' },
  '22008': { status: 400, code: 'validation_error', title: 'A date or time is out of range' },
  '22001': { status: 400, code: 'validation_error', title: 'A value is too long' },
};

/** Constraint violations the API can cause with valid-looking input, by constraint name. */
const CONSTRAINT_ERRORS: Record<string, Mapping> = {
  appointment_slots_no_overlap: {
    status: 409,
    code: 'slot_overlap',
    title: 'The practitioner already has a slot at that time',
  },
  appointments_patient_no_overlap: {
    status: 409,
    code: 'patient_double_booked',
    title: 'The patient already has an appointment at that time',
  },
  appointments_one_active_per_slot: {
    status: 409,
    code: 'slot_unavailable',
    title: 'The slot is not available',
  },
  clinics_slug_key: { status: 409, code: 'slug_taken', title: 'Another clinic has this slug' },
  users_clinic_id_email_key: {
    status: 409,
    code: 'email_taken',
    title: 'Someone in this clinic already has this email',
  },
  appointment_slots_clinic_id_practitioner_id_fkey: {
    status: 422,
    code: 'practitioner_not_found',
    title: 'No such practitioner in this clinic',
  },
};

/** Generic integrity errors: the input broke a rule the schema enforces. */
const INTEGRITY_ERRORS: Record<string, Mapping> = {
  '23514': { status: 400, code: 'validation_error', title: 'A value breaks a rule of the schema' },
  '23505': { status: 409, code: 'conflict', title: 'Something with these values exists already' },
  '23503': { status: 422, code: 'reference_not_found', title: 'A referenced record does not exist' },
  '23P01': { status: 409, code: 'conflict', title: 'This conflicts with an existing record' },
};

export function sendProblem(reply: FastifyReply, problem: ProblemError): FastifyReply {
  return reply
    .code(problem.status)
    .type('application/problem+json')
    .send({
      type: `urn:carebook:problem:${problem.code}`,
      title: problem.title,
      status: problem.status,
      code: problem.code,
      ...(problem.detail ? { detail: problem.detail } : {}),
      ...problem.extra,
    });
}

/** Maps anything thrown by a route to a ProblemError. Unknown errors become a bare 500. */
export function toProblem(error: unknown): ProblemError {
  if (error instanceof ProblemError) return error;
  const candidate = error as FastifyError & {
    code?: string;
    detail?: string;
    constraint?: string;
    validation?: unknown[];
  };
  const sql = candidate.code ? SQL_ERRORS[candidate.code] : undefined;
  if (sql) {
    const domain = candidate.code?.startsWith('CB');
    return new ProblemError(
      sql.status,
      sql.code,
      sql.title,
      domain ? (candidate.detail ?? candidate.message) : undefined,
    );
  }
  const integrity = candidate.code ? INTEGRITY_ERRORS[candidate.code] : undefined;
  if (integrity) {
    const named = candidate.constraint ? CONSTRAINT_ERRORS[candidate.constraint] : undefined;
    const mapping = named ?? integrity;
    return new ProblemError(
      mapping.status,
      mapping.code,
      mapping.title,
      candidate.constraint ? `constraint ${candidate.constraint}` : undefined,
    );
  }
  if (Array.isArray(candidate.validation)) {
    const errors = (
      candidate.validation as Array<{ instancePath?: string; message?: string; params?: unknown }>
    ).map((item) => ({
      path: `${candidate.validationContext ?? ''}${item.instancePath ?? ''}` || '/',
      message: describeValidation(item),
    }));
    return new ProblemError(
      400,
      'validation_error',
      'The request is not valid',
      errors.map((e) => `${e.path}: ${e.message}`).join('; '),
      { errors },
    );
  }
  switch (candidate.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ProblemError(413, 'payload_too_large', 'The request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ProblemError(415, 'unsupported_media_type', 'Send the body as application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ProblemError(400, 'malformed_json', 'The body is not valid JSON', candidate.message);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ProblemError(400, 'bad_request', 'Content-Length does not match the body');
  }
  if (candidate.statusCode === 408)
    return new ProblemError(408, 'request_timeout', 'The request took too long to arrive');
  if (error instanceof SyntaxError || candidate.statusCode === 400) {
    return new ProblemError(400, 'malformed_json', 'The body is not valid JSON', candidate.message);
  }
  if (candidate.statusCode && candidate.statusCode >= 400 && candidate.statusCode < 500) {
    return new ProblemError(
      candidate.statusCode,
      'bad_request',
      'The request was refused',
      candidate.message,
    );
  }
  return new ProblemError(500, 'internal_error', 'An unexpected error occurred');
}

function describeValidation(item: { message?: string; params?: unknown }): string {
  const params = item.params as { additionalProperty?: string } | undefined;
  if (params?.additionalProperty) return `unknown field "${params.additionalProperty}"`;
  return item.message ?? 'is not valid';
}

/** Installs the error, not-found and method-not-allowed handling on an app. */
export function registerErrorHandling(app: FastifyInstance): void {
  const routes: Array<{ method: string; pattern: RegExp }> = [];
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const pattern = new RegExp(
      `^${route.url
        .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
        .replace(/:[^/]+/g, '[^/]+')
        .replace(/\*/g, '.*')}/?$`,
    );
    for (const method of methods) routes.push({ method, pattern });
  });

  app.setErrorHandler((error, request, reply) => {
    const problem = toProblem(error);
    if (problem.status >= 500) {
      request.log.error({ err: error }, 'request failed');
    } else {
      request.log.info({ code: problem.code, status: problem.status }, 'request refused');
    }
    return sendProblem(reply, problem);
  });

  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0] ?? '/';
    const allowed = [
      ...new Set(routes.filter((route) => route.pattern.test(path)).map((route) => route.method)),
    ];
    if (allowed.length > 0) {
      reply.header('allow', allowed.join(', '));
      return sendProblem(
        reply,
        new ProblemError(405, 'method_not_allowed', `${request.method} is not allowed here`),
      );
    }
    return sendProblem(reply, new ProblemError(404, 'not_found', `No route for ${request.method} ${path}`));
  });
}
