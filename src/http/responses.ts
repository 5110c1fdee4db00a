// Response declarations for route schemas: what Fastify serialises with and what the OpenAPI
// document promises. Success bodies are application/json; every error is application/problem+json
// with the Problem schema, one entry per status, whose description names the codes behind it.
// Routes list the codes they can answer with; the statuses follow from PROBLEMS (errors.ts).
import { STATUS_CODES } from 'node:http';
import { type TSchema, Type } from 'typebox';
import { PROBLEMS, type ProblemCode, ProblemSchema } from './errors.js';
import { ref } from './schemas.js';

const Problem = ref(ProblemSchema);

/** Answered when the caller should wait: rate limits, the database being unreachable. */
const RETRY_AFTER = {
  'retry-after': Type.Integer({ minimum: 0, description: 'Seconds to wait before trying again.' }),
};

/** A JSON success response with a real description (and its headers, if any). */
export function json<T extends TSchema>(description: string, schema: T, headers?: Record<string, TSchema>) {
  return { description, ...(headers ? { headers } : {}), content: { 'application/json': { schema } } };
}

/** Any route behind bearer authentication: a missing or bad token, too many attempts. */
export const AUTHENTICATED = ['unauthorized', 'rate_limited'] as const satisfies ProblemCode[];
/** Any route that reads or writes the database. */
export const DATABASE = ['database_unavailable'] as const satisfies ProblemCode[];
/** Any route with a JSON body, before it runs. */
export const JSON_BODY = [
  'validation_error',
  'malformed_json',
  'payload_too_large',
  'unsupported_media_type',
] as const satisfies ProblemCode[];

/** The error responses for the codes a route can answer with (and internal_error, which any can). */
export function problemResponses(...codes: ProblemCode[]) {
  const byStatus = new Map<number, ProblemCode[]>();
  for (const code of new Set<ProblemCode>([...codes, 'internal_error'])) {
    const { status } = PROBLEMS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const statuses = [...byStatus.keys()].sort((a, b) => a - b);
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: `${STATUS_CODES[status]}: ${(byStatus.get(status) ?? []).map((code) => `\`${code}\``).join(', ')}.`,
        ...(status === 429 || status === 503 ? { headers: RETRY_AFTER } : {}),
        content: { 'application/problem+json': { schema: Problem } },
      },
    ]),
  ) as Record<
    number,
    { description: string; content: { 'application/problem+json': { schema: typeof Problem } } }
  >;
}
