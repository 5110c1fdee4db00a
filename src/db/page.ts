// One page of a keyset-paginated list. Queries fetch limit + 1 rows: the extra row is never
// returned, it only says that more follow, so a list is never cut short without saying so.
import { DomainError } from './errors.js';
import type { PoolClient } from './pool.js';

export interface Page<T> {
  items: T[];
  /** Id of the last item when more rows follow (the next page starts after it), else null. */
  after: string | null;
}

export function pageOf<T>(rows: T[], limit: number, idOf: (row: T) => string): Page<T> {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, after: rows.length > limit && last ? idOf(last) : null };
}

/**
 * A page after a cursor starts after the cursor's row (its anchor). When that row has gone since,
 * the page comes back empty and would read as "the end": refuse the cursor instead.
 * `exists` is the list's own `SELECT 1 FROM <table> WHERE id = $1`.
 */
export async function lostAnchor(
  client: PoolClient,
  exists: string,
  after: string | null,
  rows: number,
): Promise<void> {
  if (after === null || rows > 0) return;
  const anchor = await client.query(exists, [after]);
  if (anchor.rowCount === 0) throw new DomainError('invalid_cursor');
}
