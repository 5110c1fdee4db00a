// Schema pieces shared by several route modules.
import { Type } from 'typebox';

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
