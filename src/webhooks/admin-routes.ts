// /admin/webhook-events — platform admins list events and replay dead letters. Every replay (and
// dry run) is audited in the database with the admin's token subject as actor and their reason.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { WebhookConfig } from '../config.js';
import type { Pool } from '../db/pool.js';
import { principalOf, requireRole } from '../http/auth.js';
import { problemResponses } from '../http/errors.js';
import { Timestamp, Uuid } from '../http/schemas.js';
import type { TypedApp } from '../http/types.js';
import { listEvents, replayEvents } from './replay.js';

const Provider = Type.Union([
  Type.Literal('stripe'),
  Type.Literal('twilio'),
  Type.Literal('whatsapp'),
  Type.Literal('daily'),
]);
const Status = Type.Union([
  Type.Literal('pending'),
  Type.Literal('processing'),
  Type.Literal('success'),
  Type.Literal('failed'),
  Type.Literal('dead_letter'),
]);

const Event = Type.Object({
  id: Uuid,
  provider: Type.String(),
  event_type: Type.String(),
  event_id: Type.String(),
  status: Status,
  attempts: Type.Integer(),
  last_error: Type.Union([Type.String(), Type.Null()]),
  note: Type.Union([Type.String(), Type.Null()], { description: 'What the handler did, e.g. "ignored: …".' }),
  received_at: Timestamp,
});

const ListQuery = Type.Object(
  {
    status: Type.Optional({ ...Status, default: 'dead_letter' }),
    provider: Type.Optional(Provider),
    event_type: Type.Optional(Type.String({ maxLength: 200 })),
    since: Type.Optional(Timestamp),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  },
  { additionalProperties: false },
);

const ReplayBody = Type.Object(
  {
    reason: Type.String({ minLength: 3, maxLength: 500, description: 'Why; kept in the audit trail.' }),
    ids: Type.Optional(Type.Array(Uuid, { minItems: 1, maxItems: 1000 })),
    status: Type.Optional(
      Type.Union([Type.Literal('dead_letter'), Type.Literal('failed')], { default: 'dead_letter' }),
    ),
    provider: Type.Optional(Provider),
    event_type: Type.Optional(Type.String({ maxLength: 200 })),
    since: Type.Optional(Timestamp),
    dry_run: Type.Optional(Type.Boolean({ default: false })),
  },
  { additionalProperties: false },
);

const ReplayResult = Type.Object({
  dry_run: Type.Boolean(),
  matched: Type.Integer(),
  replayed: Type.Integer(),
  events: Type.Array(Event),
  skipped: Type.Array(Type.Object({ id: Uuid, reason: Type.String() })),
});

function eventJson(event: Awaited<ReturnType<typeof listEvents>>[number]) {
  return {
    id: event.id,
    provider: event.provider,
    event_type: event.eventType,
    event_id: event.eventId,
    status: event.status,
    attempts: event.attempts,
    last_error: event.error,
    note: event.note,
    received_at: event.receivedAt,
  };
}

export async function webhookAdminRoutes(
  app: FastifyInstance,
  deps: { pool: Pool; webhooks: WebhookConfig },
): Promise<void> {
  const api = app as TypedApp;
  const tags = ['admin'];

  api.get(
    '/admin/webhook-events',
    {
      schema: {
        tags,
        summary: 'Webhook events by status (dead letters by default)',
        querystring: ListQuery,
        response: { 200: Type.Object({ events: Type.Array(Event) }), ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      requireRole(principal, 'platform_admin');
      const query = request.query;
      const events = await listEvents(deps.pool, principal.sub, {
        status: query.status ?? 'dead_letter',
        provider: query.provider,
        eventType: query.event_type,
        since: query.since ? new Date(query.since) : undefined,
        limit: query.limit,
      });
      return { events: events.map(eventJson) };
    },
  );

  api.post(
    '/admin/webhook-events/replay',
    {
      schema: {
        tags,
        summary: 'Replay dead-letter events (re-verified, audited)',
        body: ReplayBody,
        response: { 200: ReplayResult, ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      requireRole(principal, 'platform_admin');
      const body = request.body;
      const report = await replayEvents(
        deps,
        {
          status: body.status ?? 'dead_letter',
          provider: body.provider,
          eventType: body.event_type,
          since: body.since ? new Date(body.since) : undefined,
          ids: body.ids,
        },
        { reason: body.reason, actor: principal.sub, dryRun: body.dry_run ?? false },
      );
      return {
        dry_run: report.dryRun,
        matched: report.matched,
        replayed: report.replayed,
        events: report.events.map(eventJson),
        skipped: report.skipped,
      };
    },
  );
}
