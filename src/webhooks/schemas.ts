// Schemas of webhook ingestion, the providers' handshakes and the admin event routes (TypeBox: the
// types of replay.ts and the routes come from these). Named ones are registered in app.ts.
import { type Static, Type } from 'typebox';
import { Cursor, Limit, PageFields, type PageSize } from '../http/pagination.js';
import { ref, Timestamp, Uuid } from '../http/schemas.js';
import { PROVIDER_NAMES, providersWith } from './providers/index.js';

const ProviderSegment = Type.String({
  maxLength: 32,
  description: `The provider: ${PROVIDER_NAMES.join(', ')}.`,
});
/** /webhooks/:provider — the provider's default account. */
export const ProviderParams = Type.Object({ provider: ProviderSegment }, { additionalProperties: false });
/** /webhooks/:provider/:integrationId — one of several accounts of a provider. */
export const AccountParams = Type.Object(
  {
    provider: ProviderSegment,
    integrationId: Type.String({
      pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$',
      description: "The integration's id, or its name.",
    }),
  },
  { additionalProperties: false },
);

/** The query parameters of every provider's handshake (GET /webhooks/{provider}). */
export const HandshakeQuery = Type.Object(
  Object.assign({}, ...providersWith('handshake').map((provider) => provider.handshake.query.properties)),
);
export const HandshakeChallenge = Type.String({ description: 'The hub.challenge, echoed as text/plain.' });

export const WebhookAccepted = Type.Object(
  {
    received: Type.Integer({ description: 'Events stored by this request.' }),
    duplicates: Type.Integer({ description: 'Events already stored before (answered 200 all the same).' }),
  },
  { $id: 'WebhookAccepted' },
);
export const Provider = Type.Enum(PROVIDER_NAMES);
export const EventStatus = Type.Enum(['pending', 'success', 'failed', 'dead_letter']);
export type EventStatus = Static<typeof EventStatus>;

export const WebhookEvent = Type.Object(
  {
    id: Uuid,
    provider: Provider,
    event_type: Type.String(),
    event_id: Type.String({ description: "The provider's event id (deduplicated per integration)." }),
    status: EventStatus,
    attempts: Type.Integer(),
    last_error: Type.Union([Type.String(), Type.Null()]),
    note: Type.Union([Type.String(), Type.Null()], {
      description: 'What the handler did, e.g. "ignored: …".',
    }),
    received_at: Timestamp,
  },
  { $id: 'WebhookEvent' },
);
export type WebhookEvent = Static<typeof WebhookEvent>;

export const EVENT_PAGE: PageSize = { max: 1000, default: 100 };

export const WebhookEventQuery = Type.Object(
  {
    status: Type.Optional({ ...EventStatus, default: 'dead_letter' }),
    provider: Type.Optional(Provider),
    event_type: Type.Optional(Type.String({ maxLength: 200 })),
    since: Type.Optional(Timestamp),
    limit: Limit(EVENT_PAGE),
    cursor: Cursor,
  },
  { additionalProperties: false },
);

export const WebhookEventPage = Type.Object(
  { events: Type.Array(ref(WebhookEvent)), ...PageFields },
  { $id: 'WebhookEventPage', description: 'Events, newest first.' },
);

export const ReplayRequest = Type.Object(
  {
    reason: Type.String({
      minLength: 3,
      maxLength: 500,
      description: 'Why; kept in the audit trail. At least 3 characters besides spaces.',
    }),
    ids: Type.Optional(Type.Array(Uuid, { minItems: 1, maxItems: 1000 })),
    status: Type.Optional(Type.Enum(['dead_letter', 'failed'], { default: 'dead_letter' })),
    provider: Type.Optional(Provider),
    event_type: Type.Optional(Type.String({ maxLength: 200 })),
    since: Type.Optional(Timestamp),
    dry_run: Type.Optional(Type.Boolean({ default: false })),
  },
  { $id: 'ReplayRequest', additionalProperties: false },
);

export const ReplayResult = Type.Object(
  {
    dry_run: Type.Boolean(),
    matched: Type.Integer(),
    replayed: Type.Integer(),
    events: Type.Array(ref(WebhookEvent), { description: 'The events replayed (or, in a dry run, to be).' }),
    skipped: Type.Array(Type.Object({ id: Uuid, reason: Type.String() })),
  },
  { $id: 'ReplayResult' },
);
export type ReplayResult = Static<typeof ReplayResult>;

export const WEBHOOK_SCHEMAS = [WebhookAccepted, WebhookEvent, WebhookEventPage, ReplayRequest, ReplayResult];
