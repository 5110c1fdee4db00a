// Replay: put chosen dead-letter (or failed) events back in the queue, admin-only and audited.
// Each event's stored raw request is verified again with the provider's scheme (ignoring the
// timestamp's age): an event whose signature no longer verifies — the secret was rotated away,
// or the row was tampered with — is reported and left alone. Rows keep their event_id, so
// replay can never create a duplicate; an event that already succeeded is never touched.
import type { WebhookConfig } from '../config.js';
import { DomainError } from '../db/errors.js';
import { lostAnchor, type Page, pageOf } from '../db/page.js';
import type { Pool } from '../db/pool.js';
import { adminContext, withTenant } from '../db/tenant.js';
import { requireReplayReason } from '../queue/replay.js';
import { secretsFor } from './integrations.js';
import { PROVIDERS, type ProviderName } from './providers/index.js';
import { EVENT_PAGE, type EventStatus, type ReplayResult, type WebhookEvent } from './schemas.js';

export interface ReplayFilter {
  /** Replay takes dead_letter or failed; listing takes any. */
  status: EventStatus;
  provider?: ProviderName;
  eventType?: string;
  since?: Date;
  ids?: string[];
  limit?: number;
}

export interface ReplayOptions {
  reason: string;
  actor: string;
  dryRun: boolean;
}

/** An event with the stored request that replay verifies again (never sent to clients). */
type StoredEvent = WebhookEvent & {
  raw_body: Buffer;
  signed_headers: Record<string, string>;
  request_url: string;
  secret_ref: string;
  webhook_id: string;
};

/** A page of events matching the filter, newest first, as the admin role sees them. */
export async function listEvents(
  pool: Pool,
  actor: string,
  filter: ReplayFilter,
  after: string | null,
): Promise<Page<WebhookEvent>> {
  const limit = filter.limit ?? EVENT_PAGE.default;
  return withTenant(pool, adminContext(actor), async (client) => {
    const result = await client.query<WebhookEvent>(
      `SELECT ${EVENT_COLUMNS}
         FROM webhook_events e
        WHERE e.status = $1 AND ($2::text IS NULL OR e.provider = $2) AND ($3::text IS NULL OR e.event_type = $3)
          AND ($4::timestamptz IS NULL OR e.received_at >= $4)
          AND ($6::uuid IS NULL OR (e.received_at, e.id) < (SELECT c.received_at, c.id FROM webhook_events c WHERE c.id = $6))
        ORDER BY e.received_at DESC, e.id DESC
        LIMIT $5 + 1`,
      [filter.status, filter.provider ?? null, filter.eventType ?? null, filter.since ?? null, limit, after],
    );
    await lostAnchor(client, 'SELECT 1 FROM webhook_events WHERE id = $1', after, result.rows.length);
    return pageOf(result.rows, limit, (event) => event.id);
  });
}

export async function replayEvents(
  deps: { pool: Pool; webhooks: WebhookConfig },
  filter: ReplayFilter,
  options: ReplayOptions,
): Promise<ReplayResult> {
  requireReplayReason(options.reason);
  if (filter.status !== 'dead_letter' && filter.status !== 'failed') {
    throw new DomainError('validation_error', 'only dead_letter or failed events can be replayed');
  }
  const rows = await selectStoredEvents(deps.pool, options.actor, filter);
  const skipped: ReplayResult['skipped'] = [];
  const verified = rows.filter((row) => {
    const verdict = PROVIDERS[row.provider].verify(
      { url: row.request_url, headers: row.signed_headers, body: row.raw_body },
      {
        secrets: secretsFor(deps.webhooks, {
          id: row.webhook_id,
          provider: row.provider,
          secretRef: row.secret_ref,
        }),
        ignoreTimestamp: true,
      },
    );
    if (!verdict.ok) skipped.push({ id: row.id, reason: `signature no longer verifies (${verdict.reason})` });
    return verdict.ok;
  });
  const filters = {
    status: filter.status,
    provider: filter.provider ?? null,
    event_type: filter.eventType ?? null,
    since: filter.since?.toISOString() ?? null,
    ids: filter.ids?.length ?? 0,
    dry_run: options.dryRun,
    skipped: skipped.length,
  };
  const replayed = await withTenant(deps.pool, adminContext(options.actor), async (client) => {
    if (options.dryRun) {
      await client.query(
        `SELECT audit.record('webhook.replay_dry_run', NULL, 'webhook_events', NULL, $1::jsonb, $2)`,
        [JSON.stringify({ ...filters, matched: verified.length }), options.reason],
      );
      return 0;
    }
    const result = await client.query<{ n: number }>(
      'SELECT replay_webhook_events($1::uuid[], $2, $3::jsonb) AS n',
      [verified.map((row) => row.id), options.reason, JSON.stringify(filters)],
    );
    return result.rows[0]?.n ?? 0;
  });
  return {
    dry_run: options.dryRun,
    matched: rows.length,
    replayed,
    events: verified.map(
      ({ raw_body, signed_headers, request_url, secret_ref, webhook_id, ...event }) => event,
    ),
    skipped,
  };
}

/** The columns of a WebhookEvent, named as the API names them. */
const EVENT_COLUMNS = `e.id, e.provider, e.event_type, e.event_id, e.status, e.attempts, e.error AS last_error, e.note,
              to_api_time(e.received_at) AS received_at`;

/** Events a replay may take, with the stored request it verifies again (raw body and all). */
async function selectStoredEvents(pool: Pool, actor: string, filter: ReplayFilter): Promise<StoredEvent[]> {
  return withTenant(pool, adminContext(actor), async (client) => {
    const result = await client.query<StoredEvent>(
      `SELECT ${EVENT_COLUMNS}, r.raw_body, r.signed_headers, r.request_url, i.secret_ref, e.webhook_id
         FROM webhook_events e JOIN integrations i ON i.id = e.webhook_id JOIN webhook_requests r ON r.id = e.request_id
        WHERE e.status = $1 AND ($2::text IS NULL OR e.provider = $2) AND ($3::text IS NULL OR e.event_type = $3)
          AND ($4::timestamptz IS NULL OR e.received_at >= $4) AND ($5::uuid[] IS NULL OR e.id = ANY ($5))
        ORDER BY e.received_at DESC, e.id DESC
        LIMIT $6`,
      [
        filter.status,
        filter.provider ?? null,
        filter.eventType ?? null,
        filter.since ?? null,
        filter.ids?.length ? filter.ids : null,
        filter.limit ?? 1000,
      ],
    );
    return result.rows;
  });
}
