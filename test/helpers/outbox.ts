// For the outbox's tests: the four fake providers on local ports, the configuration that points
// Carebook at them, a worker running every queue kind of that configuration, and the rows to read.
import { type Config, loadConfig } from '../../src/config.js';
import type { Pool } from '../../src/db/pool.js';
import { type Fakes, startFakes } from '../../src/dev/fakes/index.js';
import { createLogger } from '../../src/observability/logger.js';
import type { Metrics } from '../../src/observability/metrics.js';
import { queueKinds } from '../../src/queue/kinds.js';
import { QueueWorker } from '../../src/queue/worker.js';
import { sql } from './db.js';
import { WEBHOOK_ENV } from './webhooks.js';

const FAKES = {
  stripe: { secretKey: 'sk_test_carebook_fake' },
  daily: { apiKey: 'daily-test-key' },
  twilio: { accountSid: 'AC00000000000000000000000000000001', authToken: WEBHOOK_ENV.TWILIO_AUTH_TOKEN },
  whatsapp: { accessToken: 'wa-test-token', phoneNumberId: '100200300' },
} as const;

export type OutboundFakes = Fakes<typeof FAKES>;

export async function startOutboundFakes(): Promise<{ fakes: OutboundFakes; env: Record<string, string> }> {
  const fakes = await startFakes(FAKES);
  const env = {
    ...WEBHOOK_ENV,
    STRIPE_SECRET_KEY: FAKES.stripe.secretKey,
    STRIPE_API_BASE: fakes.urls.stripe,
    DAILY_API_KEY: FAKES.daily.apiKey,
    DAILY_API_BASE: fakes.urls.daily,
    TWILIO_ACCOUNT_SID: FAKES.twilio.accountSid,
    TWILIO_MESSAGING_SERVICE_SID: 'MG00000000000000000000000000000001',
    TWILIO_API_BASE: fakes.urls.twilio,
    WHATSAPP_ACCESS_TOKEN: FAKES.whatsapp.accessToken,
    WHATSAPP_PHONE_NUMBER_ID: FAKES.whatsapp.phoneNumberId,
    WHATSAPP_API_BASE: fakes.urls.whatsapp,
  };
  return { fakes, env };
}

export function outboxConfig(env: Record<string, string>): Config {
  return loadConfig({ ...env, CAREBOOK_JWT_SECRET: 'x'.repeat(40) });
}

/** A worker over every queue kind the configuration runs (webhooks and the outbox). */
export function outboxWorker(pool: Pool, config: Config, metrics: Metrics, workerId?: string): QueueWorker {
  return new QueueWorker({
    pool,
    listenUrl: null,
    logger: createLogger('silent'),
    metrics,
    kinds: queueKinds(config, metrics),
    workerId,
    jitter: 1,
    pollMs: 50,
  });
}

/** Runs every queue kind until nothing is due: effects stage further effects (a payment confirms, a confirmation sends). */
export async function drainOutbox(pool: Pool, env: Record<string, string>, metrics: Metrics): Promise<void> {
  const worker = outboxWorker(pool, outboxConfig(env), metrics);
  for (let i = 0; i < 5 && (await worker.drain()) > 0; i++);
}

export interface OutboxRow {
  kind: string;
  purpose: string;
  status: string;
  attempts: number;
  provider_ref: string | null;
  note: string | null;
}

export async function outboxOf(pool: Pool, appointmentId: string): Promise<OutboxRow[]> {
  return sql<OutboxRow>(
    pool,
    `SELECT kind, purpose, status, attempts, provider_ref, note FROM outbox WHERE appointment_id = $1
      ORDER BY created_at, kind, purpose, run_at`,
    [appointmentId],
  );
}
