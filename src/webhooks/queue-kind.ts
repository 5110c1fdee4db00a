// The webhooks queue kind: verified provider events (webhook_events), handled in-transaction —
// each handler's effect and the event's status commit together (00020's claim and settle).
import type { WorkerConfig } from '../config.js';
import type { Sql } from '../db/pool.js';
import type { Metrics } from '../observability/metrics.js';
import { reminderOffsetsSetting } from '../outbound/outbox.js';
import { groupSettled, type InTransactionKind, type KindSettings, type Outcome } from '../queue/kind.js';
import { type ClaimedEvent, handlerFor } from './handlers/index.js';
import { WEBHOOK_CHANNEL } from './ingest.js';

export const WEBHOOK_KIND = 'webhooks';

/** Backoff of a failed event: 5 s · 2^(attempts − 1) with full jitter, at most an hour. */
const BACKOFF = { baseSeconds: 5, capSeconds: 3600 };

export function webhookSettings(config: WorkerConfig): KindSettings {
  return {
    batchSize: config.batchSize,
    concurrency: config.concurrency,
    leaseSeconds: config.leaseSeconds,
    maxAttempts: config.maxAttempts,
    backoff: BACKOFF,
  };
}

interface ClaimedRow {
  batch: string;
  id: string;
  webhook_id: string;
  provider: string;
  event_type: string;
  event_id: string;
  payload: Record<string, unknown>;
  attempts: number;
  row_tid: string;
}

/** `reminderOffsetsSeconds`: a payment that confirms a booking stages its reminders at these. */
export function webhookKind(
  config: WorkerConfig,
  metrics: Metrics,
  reminderOffsetsSeconds: readonly number[],
): InTransactionKind<ClaimedEvent> {
  const settings = webhookSettings(config);
  return {
    name: WEBHOOK_KIND,
    mode: 'in_transaction',
    settings,
    transactionSettings: reminderOffsetsSetting(reminderOffsetsSeconds),
    wake: { channel: WEBHOOK_CHANNEL },
    async claim(sql: Sql, { limit, retryFirst }) {
      const result = await sql.query<ClaimedRow>(
        `SELECT batch::text, id, webhook_id, provider, event_type, event_id, payload, attempts, row_tid
           FROM claim_webhook_events($1, $2, $3, $4, $5)`,
        [limit, retryFirst, settings.maxAttempts, BACKOFF.baseSeconds, BACKOFF.capSeconds],
      );
      return {
        batch: result.rows[0]?.batch ?? '',
        items: result.rows.map((row) => ({
          id: row.id,
          webhookId: row.webhook_id,
          provider: row.provider,
          eventType: row.event_type,
          eventId: row.event_id,
          payload: row.payload,
          attempts: row.attempts,
          rowTid: row.row_tid,
        })),
      };
    },
    handlerFor(event) {
      return handlerFor(event) ?? `ignored: no handler for ${event.eventType}`;
    },
    settle({ batch, worker, shard, done, failed, jitter }) {
      return {
        text: `SELECT id, status FROM settle_webhook_events($1, $2, $3, $4::uuid[], $5::text[], $6::uuid[], $7::text[],
                                                      $8::boolean[], $9, $10, $11, $12, $13::tid[])`,
        values: [
          batch,
          worker,
          shard,
          done.map(({ item }) => item.id),
          done.map(({ note }) => note),
          failed.map(({ item }) => item.id),
          failed.map(({ error }) => error),
          failed.map(({ permanent }) => permanent),
          settings.maxAttempts,
          BACKOFF.baseSeconds,
          BACKOFF.capSeconds,
          jitter,
          done.map(({ item }) => item.rowTid),
        ],
        statuses: (rows) => new Map(rows.map((row) => [String(row.id), row.status as Outcome])),
      };
    },
    observe(settled) {
      for (const { sample, items } of groupSettled(settled, (one) => `${one.item.provider} ${one.outcome}`))
        metrics.webhookProcessed.inc({ provider: sample.item.provider, outcome: sample.outcome }, items);
    },
  };
}
