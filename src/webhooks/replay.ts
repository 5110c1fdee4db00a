// Replay: put chosen dead-letter (or failed) events back in the queue, admin-only and audited.
// Each event's stored raw request is verified again with the provider's scheme (ignoring the
// timestamp's age): an event whose signature no longer verifies — the secret was rotated away,
// or the row was tampered with — is reported and left alone. Rows keep their event_id, so
// replay can never create a duplicate; an event that already succeeded is never touched.
import type { WebhookConfig } from '../config.js';
import type { Pool } from '../db/pool.js';
import { type TenantContext, withTenant } from '../db/tenant.js';
import { secretsFor } from './integrations.js';
import { PROVIDERS, type ProviderName } from './providers/index.js';

export const EVENT_STATUSES = ['pending', 'processing', 'success', 'failed', 'dead_letter'] as const;
export type EventStatus = (typeof EVENT_STATUSES)[number];

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

export interface ReplayCandidate {
  id: string;
  provider: ProviderName;
  eventType: string;
  eventId: string;
  status: EventStatus;
  attempts: number;
  error: string | null;
  note: string | null;
  receivedAt: string;
}

export interface ReplayReport {
  dryRun: boolean;
  matched: number;
  replayed: number;
  events: ReplayCandidate[];
  skipped: Array<{ id: string; reason: string }>;
}

interface Row {
  id: string;
  provider: ProviderName;
  event_type: string;
  event_id: string;
  status: EventStatus;
  attempts: number;
  error: string | null;
  note: string | null;
  received_at: Date;
  raw_body: Buffer;
  signed_headers: Record<string, string>;
  request_url: string;
  secret_ref: string;
  webhook_id: string;
}

export function adminContext(actor: string): TenantContext {
  return { dbRole: 'carebook_admin', appRole: 'platform_admin', userId: actor, actor };
}

/** Events matching the filter, newest first, as the admin role sees them. */
export async function listEvents(
  pool: Pool,
  actor: string,
  filter: ReplayFilter,
): Promise<ReplayCandidate[]> {
  return (await selectEvents(pool, actor, filter, false)).map(candidate);
}

export async function replayEvents(
  deps: { pool: Pool; webhooks: WebhookConfig },
  filter: ReplayFilter,
  options: ReplayOptions,
): Promise<ReplayReport> {
  if (options.reason.trim().length < 3) throw new Error('a replay needs a reason of at least 3 characters');
  if (filter.status !== 'dead_letter' && filter.status !== 'failed')
    throw new Error('only dead_letter or failed events can be replayed');
  const rows = await selectEvents(deps.pool, options.actor, filter, true);
  const skipped: ReplayReport['skipped'] = [];
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
  return { dryRun: options.dryRun, matched: rows.length, replayed, events: verified.map(candidate), skipped };
}

/** Matching events; with `request`, also the stored request a replay verifies (raw body and all). */
async function selectEvents(
  pool: Pool,
  actor: string,
  filter: ReplayFilter,
  request: boolean,
): Promise<Row[]> {
  // The dashboard lists dead letters every two seconds: the raw bodies stay in the table for that.
  const stored = request ? 'e.raw_body, e.signed_headers, e.request_url, i.secret_ref,' : '';
  return withTenant(pool, adminContext(actor), async (client) => {
    const result = await client.query<Row>(
      `SELECT e.id, e.provider, e.event_type, e.event_id, e.status, e.attempts, e.error, e.note, e.received_at,
              ${stored} e.webhook_id
         FROM webhook_events e JOIN integrations i ON i.id = e.webhook_id
        WHERE e.status = $1 AND ($2::text IS NULL OR e.provider = $2) AND ($3::text IS NULL OR e.event_type = $3)
          AND ($4::timestamptz IS NULL OR e.received_at >= $4) AND ($5::uuid[] IS NULL OR e.id = ANY ($5))
        ORDER BY e.received_at DESC, e.id
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

function candidate(row: Row): ReplayCandidate {
  return {
    id: row.id,
    provider: row.provider,
    eventType: row.event_type,
    eventId: row.event_id,
    status: row.status,
    attempts: row.attempts,
    error: row.error,
    note: row.note,
    receivedAt: row.received_at.toISOString(),
  };
}
