// Keyset pagination, the same for every list: `limit` (optional, with a documented maximum) and
// `cursor` in the query; `next_cursor` and `has_more` in the body. A cursor is opaque to clients:
// the id of the page's last row, tagged with the list's name. The row's sort key is looked up in
// SQL rather than carried in the cursor, so a cursor (which travels in URLs, and URLs are logged)
// never holds a patient's name, and timestamps keep their full precision.
import { Type } from 'typebox';
import type { Page } from '../db/page.js';
import { isUuid } from '../db/tenant.js';
import { problem } from './errors.js';

export interface PageSize {
  max: number;
  default: number;
}

export function Limit(size: PageSize) {
  return Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: size.max,
      default: size.default,
      description: `Items per page: at most ${size.max}, ${size.default} when not given.`,
    }),
  );
}

export const Cursor = Type.Optional(
  Type.String({
    maxLength: 200,
    pattern: '^[A-Za-z0-9_-]+$',
    description: "The previous page's `next_cursor`; omit it for the first page.",
  }),
);

export const PageFields = {
  next_cursor: Type.Union([Type.String(), Type.Null()], {
    description: 'Pass as `cursor` to get the next page; null on the last page.',
  }),
  has_more: Type.Boolean({ description: 'Whether more items follow this page.' }),
};

/** The id a page starts after, from a cursor of the named list (400 invalid_cursor otherwise). */
export function cursorAfter(list: string, cursor: string | undefined): string | null {
  if (cursor === undefined) return null;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw problem('invalid_cursor');
  }
  if (!Array.isArray(decoded) || decoded.length !== 2 || decoded[0] !== list || !isUuid(decoded[1])) {
    throw problem('invalid_cursor');
  }
  return decoded[1];
}

/** `next_cursor` and `has_more` for a page of the named list. */
export function pageFields(
  list: string,
  page: Page<unknown>,
): { next_cursor: string | null; has_more: boolean } {
  return {
    next_cursor:
      page.after === null ? null : Buffer.from(JSON.stringify([list, page.after])).toString('base64url'),
    has_more: page.after !== null,
  };
}
