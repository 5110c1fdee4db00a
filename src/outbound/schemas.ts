// The shapes of the outbound API (routes.ts) and of the outbox's admin API (admin-routes.ts).
import { type Static, Type } from 'typebox';
import { Cursor, Limit, PageFields, type PageSize } from '../http/pagination.js';
import { ref, Timestamp, Uuid } from '../http/schemas.js';
import { OUTBOX_KINDS } from './outbox.js';

const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);

export const PaymentView = Type.Object(
  {
    id: Uuid,
    appointment_id: Uuid,
    status: Type.String({
      description: 'pending, succeeded, failed, refunded, refund_required or cancelled.',
    }),
    amount_cents: Type.Integer(),
    currency: Type.String(),
    payment_intent_id: Nullable(
      Type.String({ description: "The payment provider's PaymentIntent (pi_…), once it exists." }),
    ),
    client_secret: Nullable(
      Type.String({
        description:
          "For the payment provider's browser SDK (confirmPayment) in the paying patient's browser. Fetched from the provider on each request, never stored or logged; only while the payment can be paid.",
      }),
    ),
    client_secret_unavailable: Nullable(
      Type.String({ description: 'Why there is no client_secret, when there is none.' }),
    ),
  },
  {
    $id: 'PaymentView',
    description: 'A payment and, while it can be paid, what the browser needs to pay it.',
  },
);

export const VideoJoin = Type.Object(
  {
    room_url: Type.String({ description: "The visit's private room." }),
    token: Type.String({
      description: 'A meeting token for this participant only; never stored, never sent by message.',
    }),
    expires_at: Timestamp,
    is_owner: Type.Boolean({ description: 'The practitioner: admits the patient, who knocks.' }),
  },
  { $id: 'VideoJoin', description: 'What a participant needs to join a video visit.' },
);

export const OutboxStatus = Type.Enum([
  'pending',
  'in_flight',
  'needs_reconcile',
  'succeeded',
  'failed',
  'cancelled',
  'expired',
]);

export const OutboxRow = Type.Object(
  {
    id: Uuid,
    clinic_id: Uuid,
    kind: Type.Enum([...OUTBOX_KINDS]),
    purpose: Type.String(),
    appointment_id: Uuid,
    status: OutboxStatus,
    attempts: Type.Integer(),
    provider_ref: Nullable(Type.String()),
    note: Nullable(Type.String()),
    last_error: Nullable(Type.String()),
    run_at: Timestamp,
    created_at: Timestamp,
  },
  {
    $id: 'OutboxRow',
    description: 'One effect at a provider, as the outbox records it (no payload: it can hold message text).',
  },
);

export const OUTBOX_PAGE: PageSize = { max: 500, default: 100 };

export const OutboxPage = Type.Object(
  { rows: Type.Array(ref(OutboxRow)), ...PageFields },
  { $id: 'OutboxPage' },
);

export const OutboxQuery = Type.Object(
  {
    status: Type.Optional(OutboxStatus),
    kind: Type.Optional(Type.Enum([...OUTBOX_KINDS])),
    limit: Limit(OUTBOX_PAGE),
    cursor: Cursor,
  },
  { additionalProperties: false },
);

export const OutboxReplayRequest = Type.Object(
  {
    ids: Type.Array(Uuid, { minItems: 1, maxItems: 500 }),
    reason: Type.String({ minLength: 3, maxLength: 500 }),
  },
  { $id: 'OutboxReplayRequest', additionalProperties: false },
);

export const OutboxReplayResult = Type.Object(
  {
    replayed: Type.Array(Uuid),
    skipped: Type.Array(Uuid, { description: 'Not dead letters: left as they are.' }),
  },
  { $id: 'OutboxReplayResult' },
);

export type PaymentView = Static<typeof PaymentView>;
export type VideoJoin = Static<typeof VideoJoin>;
export type OutboxRow = Static<typeof OutboxRow>;
export const OUTBOUND_SCHEMAS = [
  PaymentView,
  VideoJoin,
  OutboxRow,
  OutboxPage,
  OutboxReplayRequest,
  OutboxReplayResult,
];
