// What the schedule routes share: who may act, 404s, the error responses they declare.
import type { FastifyRequest } from 'fastify';
import { principalOf, requireClinic, requireRole, tenantContext } from '../http/auth.js';
import { type ProblemCode, problem } from '../http/errors.js';
import { AUTHENTICATED, DATABASE, JSON_BODY, problemResponses } from '../http/responses.js';

export const tags = ['schedules'];
export const BASE = '/api/clinics/:clinic_id/practitioners/:practitioner_id';

/** Clinic admins and staff of the clinic, and platform admins: the context to act in it. */
export function staffOf(request: FastifyRequest, clinicId: string) {
  const principal = principalOf(request);
  requireRole(principal, 'staff', 'clinic_admin', 'platform_admin');
  requireClinic(principal, clinicId);
  return tenantContext(principal, clinicId);
}

export function found<T>(value: T | null, what: string): T {
  if (value === null) throw problem('resource_not_found', `No such ${what} in this clinic.`);
  return value;
}

const STAFF_ROUTE: ProblemCode[] = ['validation_error', 'forbidden', ...AUTHENTICATED, ...DATABASE];
/** A list: refused, or a cursor that is not this list's. */
export const LIST_PROBLEMS = problemResponses(...STAFF_ROUTE, 'invalid_cursor');
/** A read of one thing. */
export const READ_PROBLEMS = problemResponses(...STAFF_ROUTE, 'resource_not_found');
/** A write, which regenerates slots (their no-overlap and reference rules apply). */
export const WRITE_PROBLEMS = problemResponses(
  ...STAFF_ROUTE,
  ...JSON_BODY,
  'resource_not_found',
  'slot_overlap',
  'conflict',
  'reference_not_found',
);
