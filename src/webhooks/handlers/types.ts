// What a handler is: given the worker's transaction and a claimed event, apply the event's business
// effect (idempotently) and say what was done. Throwing means "try again later" unless the error is
// a PermanentEventError (the event can never succeed as it is: straight to the dead letters).
import type { Sql } from '../../db/pool.js';
import { PermanentError } from '../../queue/kind.js';

export interface ClaimedEvent {
  id: string;
  webhookId: string;
  provider: string;
  eventType: string;
  eventId: string;
  payload: Record<string, unknown>;
  attempts: number;
  /** The row id (ctid) the claim locked: the settle finds the row by it, without an index probe. */
  rowTid: string;
}

export type Handler = (client: Sql, event: ClaimedEvent) => Promise<string>;

export class PermanentEventError extends PermanentError {
  override name = 'PermanentEventError';
}

/** A string field of a payload object, or a PermanentEventError naming what is missing. */
export function field(object: unknown, path: string): string {
  let value: unknown = object;
  for (const key of path.split('.')) {
    value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  }
  if (typeof value !== 'string' || value === '') throw new PermanentEventError(`the event has no ${path}`);
  return value;
}

/** An optional string field. */
export function optionalField(object: unknown, path: string): string | null {
  try {
    return field(object, path);
  } catch {
    return null;
  }
}
