// Ingestion: verify the raw request with the provider's scheme, split it into events, store each
// once and wake the workers — no business work here. One database round trip per request.
import { createHash } from 'node:crypto';
import type { WebhookConfig } from '../config.js';
import type { Pool } from '../db/pool.js';
import { queryInContext } from '../db/tenant.js';
import type { Metrics } from '../observability/metrics.js';
import { type Integration, secretsFor } from './integrations.js';
import {
  MalformedWebhookError,
  type ProviderEvent,
  type RawWebhookRequest,
  type VerifyFailure,
  type WebhookProvider,
} from './providers/index.js';

/** ingest_webhook_events and replay_webhook_events NOTIFY this channel (the webhooks kind listens). */
export const WEBHOOK_CHANNEL = 'carebook_webhook_events';

export type IngestResult =
  | { kind: 'stored'; inserted: number; duplicates: number }
  | { kind: 'test_ping' }
  | { kind: 'not_configured' }
  | { kind: 'rejected'; reason: VerifyFailure };

export interface IngestDeps {
  pool: Pool;
  metrics: Metrics;
  webhooks: WebhookConfig;
  notifier: WorkerNotifier;
}

/**
 * NOTIFY serialises the commits of every notifying transaction in the cluster, so under load
 * ingestion wakes the workers once per interval, not per request: the first insert of an interval
 * notifies in its own transaction; if more arrive before the interval ends, one trailing
 * pg_notify follows. Workers also poll, so nothing waits for long either way.
 */
export class WorkerNotifier {
  private last = 0;
  private trailing: NodeJS.Timeout | null = null;

  constructor(
    private readonly pool: Pool,
    private readonly intervalMs = 25,
  ) {}

  /** True when this insert should NOTIFY itself. */
  claim(): boolean {
    const now = Date.now();
    if (now - this.last >= this.intervalMs) {
      this.last = now;
      return true;
    }
    this.trailing ??= setTimeout(
      () => {
        this.trailing = null;
        this.last = Date.now();
        const service = { dbRole: 'carebook_worker', appRole: 'service', userId: 'webhooks' } as const;
        queryInContext(this.pool, service, `pg_notify($1, 'batch')`, [WEBHOOK_CHANNEL]).catch(() => {});
      },
      this.intervalMs - (now - this.last),
    );
    this.trailing.unref();
    return false;
  }
}

/** The event type under which a verified but unreadable body is kept, so that nothing is lost. */
export const UNPARSEABLE = 'unparseable';

export async function ingestWebhook(
  deps: IngestDeps,
  provider: WebhookProvider,
  integration: Integration,
  request: RawWebhookRequest,
): Promise<IngestResult> {
  const count = (outcome: string, n = 1) =>
    deps.metrics.webhookReceived.inc({ provider: provider.name, outcome }, n);
  // Daily's endpoint check comes before the secret check: Daily reveals a secret it generated only
  // after this ping has been answered 200, and the ping has no effect whatever we answer.
  if (provider.isTestPing?.(request)) {
    count('test_ping');
    return { kind: 'test_ping' };
  }
  const secrets = secretsFor(deps.webhooks, integration);
  if (secrets.length === 0) {
    count('not_configured');
    return { kind: 'not_configured' };
  }
  const verification = provider.verify(request, { secrets });
  if (!verification.ok) {
    count(verification.reason);
    return { kind: 'rejected', reason: verification.reason };
  }

  let events: ProviderEvent[];
  try {
    events = provider.parse(request);
  } catch (error) {
    if (!(error instanceof MalformedWebhookError)) throw error;
    // Signed by the provider but unreadable to us: keep it (it will dead-letter for a human).
    count('malformed');
    events = [
      {
        eventId: `${UNPARSEABLE}:${createHash('sha256').update(request.body).digest('hex')}`,
        eventType: UNPARSEABLE,
        payload: { error: error.message },
      },
    ];
  }
  if (events.length === 0) return { kind: 'stored', inserted: 0, duplicates: 0 };

  const stored = await storeEvents(deps.pool, provider, integration, request, events, deps.notifier.claim());
  count('accepted', stored.inserted);
  if (stored.duplicates > 0) count('duplicate', stored.duplicates);
  return { kind: 'stored', ...stored };
}

async function storeEvents(
  pool: Pool,
  provider: WebhookProvider,
  integration: Integration,
  request: RawWebhookRequest,
  events: ProviderEvent[],
  notify: boolean,
): Promise<{ inserted: number; duplicates: number }> {
  const signedHeaders = Object.fromEntries(
    provider.signedHeaders.flatMap((name) =>
      request.headers[name] === undefined ? [] : [[name, request.headers[name]]],
    ),
  );
  const rows = await queryInContext<{ inserted: number; duplicates: number }>(
    pool,
    { dbRole: 'carebook_worker', appRole: 'service', userId: `webhook:${provider.name}` },
    'ingest_webhook_events($1, $2, $3, $4, $5, $6, $7, $8)',
    [
      integration.id,
      provider.name,
      JSON.stringify(
        events.map((event) => ({
          event_id: event.eventId,
          event_type: event.eventType,
          payload: event.payload,
          idempotency_key: event.idempotencyKey ?? null,
        })),
      ),
      request.body,
      JSON.stringify(signedHeaders),
      request.url,
      provider.signedHeaders.map((name) => request.headers[name]).find((value) => value !== undefined) ??
        null,
      notify,
    ],
  );
  return rows[0] ?? { inserted: 0, duplicates: 0 };
}
