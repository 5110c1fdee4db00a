// The OpenAPI document (/openapi.json, browsable at /docs): OpenAPI 3.1, so TypeBox's JSON Schema
// goes in unchanged (null is a type, enums stay enums). Component schemas keep their $id as their
// name. `npm run openapi:check` lints the served document and regenerates client/schema.d.ts.
import type { SwaggerOptions } from '@fastify/swagger';
import { titlesOf } from '../webhooks/providers/index.js';

declare module 'fastify' {
  interface FastifySchema {
    /** The route takes a missing body as {} (and says so: requestBody.required false). */
    'x-body-optional'?: boolean;
  }
}

export const API_TAGS = [
  { name: 'appointments', description: 'Book, read, cancel and reschedule appointments.' },
  { name: 'clinics', description: 'Set a clinic up: clinics, practitioners, patients and slots.' },
  {
    name: 'schedules',
    description: 'Weekly schedules, date exceptions, time off and holidays, which generate the slots.',
  },
  { name: 'availability', description: "What can be booked, in the clinic's local dates." },
  { name: 'admin', description: 'Platform operations: webhook events, replay, dashboard numbers.' },
  { name: 'webhooks', description: `Provider webhooks (${titlesOf()}), signed, no token.` },
];

export function openapiOptions(publicUrl: string | null): SwaggerOptions {
  return {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Carebook API',
        version: '0.1.0',
        description:
          'Booking and integrations backend for clinics. Errors are application/problem+json with a stable `code` (docs/error_codes.md). Lists are paginated by cursor: pass `next_cursor` back as `cursor` while `has_more` is true.',
      },
      servers: [
        publicUrl
          ? { url: publicUrl, description: 'This deployment (CAREBOOK_PUBLIC_URL).' }
          : { url: '/', description: 'The server this document was read from.' },
      ],
      tags: API_TAGS,
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      security: [{ bearer: [] }],
    },
    refResolver: {
      // Components are named by their $id (Appointment, Slot, Problem…), not def-0, def-1…
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json.$id === 'string' ? json.$id : `def-${i}`,
    },
    transformObject: (document) =>
      'openapiObject' in document ? markOptionalBodies(document.openapiObject) : document.swaggerObject,
  };
}

/** @fastify/swagger marks every body required; routes with x-body-optional take none as {}. */
function markOptionalBodies<T extends { paths?: object }>(document: T): T {
  for (const item of Object.values(document.paths ?? {}) as Array<Record<string, unknown>>) {
    for (const operation of Object.values(item) as Array<Record<string, unknown> | undefined>) {
      if (!operation?.['x-body-optional']) continue;
      delete operation['x-body-optional'];
      if (operation.requestBody) (operation.requestBody as { required: boolean }).required = false;
    }
  }
  return document;
}
