// /admin/webhook-events — platform admins list events and replay dead letters. Every replay (and
// dry run) is audited in the database with the admin's token subject as actor and their reason.
import type { FastifyInstance } from 'fastify';
import type { WebhookConfig } from '../config.js';
import type { Pool } from '../db/pool.js';
import { principalOf, requireRole } from '../http/auth.js';
import { cursorAfter, pageFields } from '../http/pagination.js';
import { AUTHENTICATED, DATABASE, JSON_BODY, json, problemResponses } from '../http/responses.js';
import { ref } from '../http/schemas.js';
import type { TypedApp } from '../http/types.js';
import { listEvents, replayEvents } from './replay.js';
import { ReplayRequest, ReplayResult, WebhookEventPage, WebhookEventQuery } from './schemas.js';

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
        operationId: 'listWebhookEvents',
        tags,
        summary: 'Webhook events by status (dead letters by default)',
        description: 'Newest first, paginated by cursor. Platform admins only.',
        querystring: WebhookEventQuery,
        response: {
          200: json('A page of events.', ref(WebhookEventPage)),
          ...problemResponses(
            'validation_error',
            'invalid_cursor',
            'forbidden',
            ...AUTHENTICATED,
            ...DATABASE,
          ),
        },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      requireRole(principal, 'platform_admin');
      const query = request.query;
      const page = await listEvents(
        deps.pool,
        principal.sub,
        {
          status: query.status ?? 'dead_letter',
          provider: query.provider,
          eventType: query.event_type,
          since: query.since ? new Date(query.since) : undefined,
          limit: query.limit,
        },
        cursorAfter('webhook-events', query.cursor),
      );
      return { events: page.items, ...pageFields('webhook-events', page) };
    },
  );

  api.post(
    '/admin/webhook-events/replay',
    {
      schema: {
        operationId: 'replayWebhookEvents',
        tags,
        summary: 'Replay dead-letter events (re-verified, audited)',
        description:
          'Chosen dead_letter (or failed) events go back to pending with their event_id, after their stored signature verifies again. Each call is audited with the reason; dry_run changes nothing.',
        body: ref(ReplayRequest),
        response: {
          200: json(
            'What was replayed (or, with dry_run, would be), and what was skipped because its signature no longer verifies.',
            ref(ReplayResult),
          ),
          ...problemResponses(...JSON_BODY, 'forbidden', ...AUTHENTICATED, ...DATABASE),
        },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      requireRole(principal, 'platform_admin');
      const body = request.body;
      return replayEvents(
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
    },
  );
}
