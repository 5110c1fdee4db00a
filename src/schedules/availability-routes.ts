// GET /api/availability — what can be booked, in the clinic's local dates. Reads go to the read
// replica when one is configured; booking (POST /api/appointments) always revalidates on the primary.
import type { FastifyInstance } from 'fastify';
import { Temporal } from 'temporal-polyfill';
import type { Pool } from '../db/pool.js';
import { principalOf, requireClinic, requireRole, tenantContext } from '../http/auth.js';
import { problem } from '../http/errors.js';
import { AUTHENTICATED, DATABASE, json, problemResponses } from '../http/responses.js';
import { ref } from '../http/schemas.js';
import type { TypedApp } from '../http/types.js';
import { decodeCursor, searchAvailability } from './availability.js';
import { Availability, AvailabilityQuery, SEARCH_PAGE } from './schemas.js';

export const MAX_SEARCH_DAYS = 62;

const invalid = (detail: string) => problem('validation_error', detail);

export async function availabilityRoutes(app: FastifyInstance, deps: { readPool: Pool }): Promise<void> {
  const api = app as TypedApp;
  api.get(
    '/api/availability',
    {
      schema: {
        tags: ['availability'],
        operationId: 'searchAvailability',
        summary: 'Bookable slots between two local dates of the clinic (at most 62 days)',
        description:
          'Slots are grouped by the local date of their start and ordered by (starts_at, practitioner_id); occurrence is 2 for the second pass through a repeated hour. Minimum notice and buffers are applied exactly as booking applies them.',
        querystring: AvailabilityQuery,
        response: {
          200: json('Bookable slots by local date, one page.', ref(Availability)),
          ...problemResponses(
            'validation_error',
            'forbidden',
            'resource_not_found',
            ...AUTHENTICATED,
            ...DATABASE,
          ),
        },
      },
    },
    async (request) => {
      const query = request.query;
      const principal = principalOf(request);
      requireRole(principal, 'patient', 'staff', 'clinic_admin', 'platform_admin');
      requireClinic(principal, query.clinic_id);
      const from = Temporal.PlainDate.from(query.from);
      const to = Temporal.PlainDate.from(query.to);
      const days = from.until(to, { largestUnit: 'days' }).days + 1;
      if (days < 1) throw invalid('/querystring/to: must not be before from');
      if (days > MAX_SEARCH_DAYS) throw invalid(`/querystring/to: at most ${MAX_SEARCH_DAYS} days from from`);
      const cursor = query.cursor === undefined ? null : decodeCursor(query.cursor);
      if (query.cursor !== undefined && cursor === null)
        throw invalid('/querystring/cursor: not a cursor of this API');
      const ids = query.practitioner_id;
      const result = await searchAvailability(deps.readPool, tenantContext(principal, query.clinic_id), {
        clinicId: query.clinic_id,
        practitionerIds: ids === undefined ? null : Array.isArray(ids) ? ids : [ids],
        visitType: query.visit_type ?? null,
        from,
        to,
        cursor,
        limit: query.limit ?? SEARCH_PAGE.default,
      });
      if (result === null) throw problem('resource_not_found', 'No such clinic.');
      return result;
    },
  );
}
