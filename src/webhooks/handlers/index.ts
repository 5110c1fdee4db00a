// Which handler an event gets: its provider's descriptor says (src/webhooks/providers). Types
// without a handler are settled as success with an "ignored" note — providers send many event
// types we do not need, and none of them is an error.
import { UNPARSEABLE } from '../ingest.js';
import { providerNamed } from '../providers/index.js';
import { type ClaimedEvent, type Handler, PermanentEventError } from './types.js';

const unparseable: Handler = async (_client, event) => {
  throw new PermanentEventError(
    `the provider's body could not be read: ${String(event.payload.error ?? 'unknown')}`,
  );
};

/** The handler for an event, or null when the type is one we ignore. */
export function handlerFor(event: Pick<ClaimedEvent, 'provider' | 'eventType'>): Handler | null {
  if (event.eventType === UNPARSEABLE) return unparseable;
  const handlers = providerNamed(event.provider)?.handlers;
  // Own keys only: an event type such as "constructor" must not find Object's.
  return handlers && Object.hasOwn(handlers, event.eventType) ? (handlers[event.eventType] ?? null) : null;
}

export { type ClaimedEvent, type Handler, PermanentEventError } from './types.js';
