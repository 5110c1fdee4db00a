// Every error leaves as application/problem+json (RFC 9457) with a stable `code`. This is the one
// place where codes become HTTP statuses: PROBLEMS below. Services throw domain errors (or let SQL
// raise its CB codes, src/db/errors.ts); routes and the HTTP layer throw problem(code).
// 5xx responses never echo internal messages.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { domainErrorOf, isDatabaseUnavailable } from '../db/errors.js';

export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly detail?: string,
    readonly extra: Record<string, unknown> = {},
    /** Response headers that belong to this problem, e.g. Retry-After. */
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? title);
    this.name = 'ProblemError';
  }
}

export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'urn:carebook:problem:<code>.' }),
    title: Type.String({ description: 'The same for every occurrence of the code; for people.' }),
    status: Type.Integer(),
    code: Type.String({ description: 'Stable machine-readable error code (docs/error_codes.md).' }),
    detail: Type.Optional(Type.String({ description: 'This occurrence, for people; may change.' })),
    errors: Type.Optional(
      Type.Array(Type.Object({ path: Type.String(), message: Type.String() }), {
        description: 'validation_error only: where and what.',
      }),
    ),
    request_id: Type.String({
      description:
        'The X-Request-Id of this request (also in the response header); quote it when reporting a problem.',
    }),
  },
  { $id: 'Problem', additionalProperties: true, description: 'RFC 9457 problem details.' },
);

interface ProblemKind {
  status: number;
  title: string;
  /** Said when the occurrence has nothing more specific to say. */
  detail?: string;
}

/** Every code the API answers with, and its status (docs/error_codes.md explains each). */
export const PROBLEMS = {
  validation_error: { status: 400, title: 'The request is not valid' },
  malformed_json: { status: 400, title: 'The body is not valid JSON' },
  missing_idempotency_key: {
    status: 400,
    title: 'Idempotency-Key header required',
    detail:
      'Send a unique Idempotency-Key (e.g. a UUID) with every booking request, and the same key when you retry it.',
  },
  invalid_idempotency_key: {
    status: 400,
    title: 'Idempotency-Key is not valid',
    detail: 'Use 1 to 255 visible ASCII characters.',
  },
  invalid_cursor: {
    status: 400,
    title: 'The cursor is not valid here',
    detail: 'Pass next_cursor from the previous page of the same list, or no cursor to start again.',
  },
  bad_request: { status: 400, title: 'The request was refused' },
  unauthorized: { status: 401, title: 'Authentication required' },
  invalid_signature: { status: 401, title: 'The webhook signature did not verify' },
  forbidden: { status: 403, title: 'Not allowed' },
  video_not_yours: { status: 403, title: 'Only the patient and the practitioner of a visit can join it' },
  not_found: { status: 404, title: 'No such route' },
  resource_not_found: { status: 404, title: 'No such record in this clinic' },
  slot_not_found: { status: 404, title: 'No such slot' },
  appointment_not_found: { status: 404, title: 'No such appointment' },
  patient_not_found: { status: 404, title: 'No such patient' },
  unknown_provider: { status: 404, title: 'No such webhook provider' },
  integration_not_found: { status: 404, title: 'No such active integration for this provider' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  request_timeout: { status: 408, title: 'The request took too long to arrive' },
  headers_too_large: { status: 431, title: 'The request headers are too large' },
  slot_unavailable: { status: 409, title: 'The slot is not available' },
  appointment_not_active: { status: 409, title: 'The appointment cannot be changed in its current state' },
  patient_double_booked: { status: 409, title: 'The patient already has an appointment at that time' },
  reschedule_price_mismatch: { status: 409, title: 'The new slot has a different price' },
  slot_within_notice: { status: 409, title: 'The slot starts too soon to be booked' },
  slot_buffer_conflict: { status: 409, title: 'The slot is too close to another booking' },
  video_not_open: { status: 409, title: 'The video room is not open now' },
  video_room_not_ready: { status: 409, title: 'The video room is not ready yet' },
  slot_overlap: { status: 409, title: 'The practitioner already has a slot at that time' },
  slug_taken: { status: 409, title: 'Another clinic has this slug' },
  email_taken: { status: 409, title: 'Someone in this clinic already has this email' },
  conflict: { status: 409, title: 'This conflicts with an existing record' },
  payload_too_large: { status: 413, title: 'The request body is too large' },
  unsupported_media_type: { status: 415, title: 'Send the body as application/json' },
  idempotency_key_reused: { status: 422, title: 'The Idempotency-Key belongs to another request' },
  practitioner_not_found: { status: 422, title: 'No such practitioner in this clinic' },
  reference_not_found: { status: 422, title: 'A referenced record does not exist' },
  rate_limited: { status: 429, title: 'Too many requests' },
  internal_error: { status: 500, title: 'An unexpected error occurred' },
  provider_not_configured: { status: 503, title: 'This webhook provider is not configured here' },
  database_unavailable: { status: 503, title: 'The database is not available' },
} as const satisfies Record<string, ProblemKind>;

export type ProblemCode = keyof typeof PROBLEMS;

/** The problem for a code, with this occurrence's detail (else the code's own, if it has one). */
export function problem(
  code: ProblemCode,
  detail?: string,
  extra?: Record<string, unknown>,
  headers?: Record<string, string>,
): ProblemError {
  const kind: ProblemKind = PROBLEMS[code];
  return new ProblemError(kind.status, code, kind.title, detail ?? kind.detail, extra, headers);
}

/** Seconds a client is told to wait when the database is unavailable. */
export const DATABASE_RETRY_AFTER_SECONDS = 2;

/** The RFC 9457 body of a problem. */
export function problemBody(problem: ProblemError, requestId: string): Record<string, unknown> {
  return {
    type: `urn:carebook:problem:${problem.code}`,
    title: problem.title,
    status: problem.status,
    code: problem.code,
    ...(problem.detail ? { detail: problem.detail } : {}),
    ...problem.extra,
    request_id: requestId,
  };
}

export function sendProblem(reply: FastifyReply, problem: ProblemError): FastifyReply {
  for (const [name, value] of Object.entries(problem.headers)) reply.header(name, value);
  return reply
    .code(problem.status)
    .type('application/problem+json')
    .send(problemBody(problem, reply.request.id));
}

/** Headers whose validation failures have codes of their own. */
const HEADER_PROBLEMS: Record<string, { missing: ProblemCode; invalid: ProblemCode }> = {
  'idempotency-key': { missing: 'missing_idempotency_key', invalid: 'invalid_idempotency_key' },
};

type ValidationItem = { instancePath?: string; message?: string; params?: Record<string, unknown> };

/** Maps anything thrown by a route to a ProblemError. Unknown errors become a bare 500. */
export function toProblem(error: unknown): ProblemError {
  if (error instanceof ProblemError) return error;
  if (isDatabaseUnavailable(error)) {
    return problem(
      'database_unavailable',
      `Retry in ${DATABASE_RETRY_AFTER_SECONDS} seconds.`,
      {},
      {
        'retry-after': String(DATABASE_RETRY_AFTER_SECONDS),
      },
    );
  }
  const domain = domainErrorOf(error);
  if (domain) return problem(domain.code, domain.detail);
  const candidate = error as FastifyError & { validation?: ValidationItem[] };
  if (Array.isArray(candidate.validation)) return validationProblem(candidate);
  switch (candidate.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return problem('payload_too_large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return problem('unsupported_media_type');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return problem('malformed_json', candidate.message);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return problem('bad_request', 'Content-Length does not match the body.');
  }
  if (error instanceof SyntaxError || candidate.statusCode === 400) {
    return problem('malformed_json', candidate.message);
  }
  if (candidate.statusCode && candidate.statusCode >= 400 && candidate.statusCode < 500) {
    return new ProblemError(
      candidate.statusCode,
      'bad_request',
      PROBLEMS.bad_request.title,
      candidate.message,
    );
  }
  return problem('internal_error');
}

function validationProblem(error: FastifyError & { validation?: ValidationItem[] }): ProblemError {
  const items = error.validation ?? [];
  const header = headerProblem(error.validationContext, items[0]);
  if (header) return header;
  const errors = items.map((item) => ({
    path: `${error.validationContext ?? ''}${item.instancePath ?? ''}` || '/',
    message: describeValidation(item),
  }));
  return problem('validation_error', errors.map((e) => `${e.path}: ${e.message}`).join('; '), { errors });
}

function headerProblem(context: string | undefined, item: ValidationItem | undefined): ProblemError | null {
  if (context !== 'headers' || !item) return null;
  const missing = item.params?.missingProperty;
  const name = typeof missing === 'string' ? missing : item.instancePath?.slice(1);
  const codes = name ? HEADER_PROBLEMS[name] : undefined;
  if (!codes) return null;
  return problem(missing ? codes.missing : codes.invalid);
}

function describeValidation(item: ValidationItem): string {
  if (item.params?.additionalProperty) return `unknown field "${item.params.additionalProperty}"`;
  return item.message ?? 'is not valid';
}

/** Installs the error, not-found and method-not-allowed handling on an app. */
export function registerErrorHandling(app: FastifyInstance): void {
  const routes: Array<{ method: string; pattern: RegExp }> = [];
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    // The optional trailing slash matches the router's ignoreTrailingSlash (app.ts).
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
    if (problem.code === 'database_unavailable') {
      request.log.warn({ code: problem.code, cause: (error as Error).message }, 'database unavailable');
    } else if (problem.status >= 500) {
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
      return sendProblem(reply, problem('method_not_allowed', `${request.method} is not allowed here`));
    }
    return sendProblem(reply, problem('not_found', `No route for ${request.method} ${path}`));
  });
}
