// /admin/outbox — platform admins list the outbox and replay its dead letters (audited, with the
// admin's token subject as actor and their reason).
import type { FastifyInstance } from 'fastify';
import type { Pool } from '../db/pool.js';
import { principalOf, requireRole } from '../http/auth.js';
import { cursorAfter, pageFields } from '../http/pagination.js';
import { AUTHENTICATED, DATABASE, JSON_BODY, json, problemResponses } from '../http/responses.js';
import { ref } from '../http/schemas.js';
import type { TypedApp } from '../http/types.js';
import { listOutbox, replayOutbox } from './admin.js';
import { OutboxPage, OutboxQuery, OutboxReplayRequest, OutboxReplayResult } from './schemas.js';

export async function outboxAdminRoutes(app: FastifyInstance, deps: { pool: Pool }): Promise<void> {
  const api = app as TypedApp;
  const tags = ['admin'];

  api.get(
    '/admin/outbox',
    {
      schema: {
        operationId: 'listOutbox',
        tags,
        summary: 'Effects at providers, by status and kind',
        description:
          'Newest first, paginated by cursor; failed rows are the dead letters. Platform admins only. Payloads are not shown: they can hold message text.',
        querystring: OutboxQuery,
        response: {
          200: json('A page of outbox rows.', ref(OutboxPage)),
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
      const { status, kind, limit, cursor } = request.query;
      const page = await listOutbox(
        deps.pool,
        principal.sub,
        { status, kind, limit },
        cursorAfter('outbox', cursor),
      );
      return { rows: page.items, ...pageFields('outbox', page) };
    },
  );

  api.post(
    '/admin/outbox/replay',
    {
      schema: {
        operationId: 'replayOutbox',
        tags,
        summary: 'Replay outbox dead letters (audited)',
        description:
          'Chosen failed rows go back to pending with a fresh attempt budget and are delivered again: their dedupe keys still make each effect happen once. Each call is audited with the reason.',
        body: ref(OutboxReplayRequest),
        response: {
          200: json('What was replayed, and what was not a dead letter.', ref(OutboxReplayResult)),
          ...problemResponses(...JSON_BODY, 'forbidden', ...AUTHENTICATED, ...DATABASE),
        },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      requireRole(principal, 'platform_admin');
      return replayOutbox(deps.pool, request.body.ids, { reason: request.body.reason, actor: principal.sub });
    },
  );
}
