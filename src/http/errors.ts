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
  { $id: 'Problem', additionalProperties: true },
);

/** Domain errors raised in SQL (`raise … using errcode = 'CB0nn'`), listed in docs/error_codes.md. */
const SQL_ERRORS: Record<string, { status: number; code: string; title: string }> = {};

export function registerSqlError(errcode: string, status: number, code: string, title: string): void {
  SQL_ERRORS[errcode] = { status, code, title };
}

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
  const candidate = error as FastifyError & { code?: string; detail?: string; validation?: unknown[] };
  const sql = candidate.code ? SQL_ERRORS[candidate.code] : undefined;
  if (sql) return new ProblemError(sql.status, sql.code, sql.title, candidate.detail ?? candidate.message);
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
