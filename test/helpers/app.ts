// A Carebook app on a test database, with helpers to mint tokens for it.
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config.js';
import type { TokenRole } from '../../src/db/tenant.js';
import { buildApp } from '../../src/http/app.js';
import { signToken } from '../../src/http/auth.js';
import { createLogger, type Logger } from '../../src/observability/logger.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import { outboxStats } from '../../src/observability/outbox-metrics.js';
import { queueStats } from '../../src/queue/store.js';
import type { TestDatabase } from './db.js';

export const TEST_JWT_SECRET = 'test-only-secret-0123456789abcdefghijklmnop';
export const TEST_METRICS_TOKEN = 'test-only-metrics-token';

export interface TestApp {
  app: FastifyInstance;
  metrics: Metrics;
  close(): Promise<void>;
}

export async function buildTestApp(
  db: TestDatabase,
  env: Record<string, string> = {},
  options: { logger?: Logger } = {},
): Promise<TestApp> {
  // Rate limits are off unless a test sets them: bursts of hundreds of requests from one address
  // are what these tests are made of (test/http/edge.test.ts proves the limits themselves).
  const config = loadConfig({
    CAREBOOK_JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: 'silent',
    CAREBOOK_RATE_LIMIT_AUTH_FAILURES: '0',
    CAREBOOK_RATE_LIMIT_BOOKINGS: '0',
    CAREBOOK_RATE_LIMIT_WEBHOOK_FAILURES: '0',
    CAREBOOK_METRICS_TOKEN: TEST_METRICS_TOKEN,
    ...env,
  });
  const metrics = createMetrics({
    queueStats: () => queueStats(db.pool),
    outboxStats: () => outboxStats(db.pool),
  });
  const app = await buildApp({
    config,
    pool: db.pool,
    logger: options.logger ?? createLogger('silent'),
    metrics,
  });
  return { app, metrics, close: () => app.close() };
}

export function token(
  claims: { sub?: string; role: TokenRole; clinic_id?: string | null; patient_id?: string | null },
  expiresIn = '1h',
) {
  return signToken(
    TEST_JWT_SECRET,
    { sub: claims.sub ?? `${claims.role}-${claims.clinic_id ?? 'any'}`, ...claims },
    { expiresIn },
  );
}

export async function bearer(claims: Parameters<typeof token>[0]): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await token(claims)}` };
}

/** The app's /metrics text (behind the test metrics token). */
export async function metricsOf(app: FastifyInstance): Promise<string> {
  const response = await app.inject({
    method: 'GET',
    url: '/metrics',
    headers: { authorization: `Bearer ${TEST_METRICS_TOKEN}` },
  });
  if (response.statusCode !== 200) throw new Error(`/metrics answered ${response.statusCode}`);
  return response.body;
}
