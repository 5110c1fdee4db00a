// Schema pieces shared by several route modules.
import { type Static, type TSchema, type TUnsafe, Type } from 'typebox';

export const Uuid = Type.String({ format: 'uuid', description: 'A UUID.' });
export const Timestamp = Type.String({
  format: 'date-time',
  description: 'ISO 8601 date-time, e.g. 2026-12-01T09:00:00Z.',
});
export const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false });

/** Free text from users: bounded, single-line or not, never containing NUL (checked by the parser). */
export function Text(maxLength: number, description: string) {
  return Type.String({ minLength: 1, maxLength, description });
}

/**
 * A reference to a named component schema (one with an `$id`, registered with app.addSchema in
 * app.ts), typed as the schema itself: Fastify validates and serialises through the registered
 * schema, and the OpenAPI document names it in components.schemas.
 */
export function ref<T extends TSchema>(schema: T): TUnsafe<Static<T>> {
  const id = (schema as { $id?: unknown }).$id;
  if (typeof id !== 'string') throw new TypeError('ref() takes a schema with an $id');
  return Type.Unsafe<Static<T>>({ $ref: `${id}#` });
}
