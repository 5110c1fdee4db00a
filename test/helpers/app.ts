// A Carebook app on a test database, with helpers to mint tokens for it.
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config.js';
import type { AppRole } from '../../src/db/tenant.js';
import { buildApp } from '../../src/http/app.js';
import { signToken } from '../../src/http/auth.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import { queueStats } from '../../src/webhooks/queue.js';
import type { TestDatabase } from './db.js';

export const TEST_JWT_SECRET = 'test-only-secret-0123456789abcdefghijklmnop';

export interface TestApp {
  app: FastifyInstance;
  metrics: Metrics;
  close(): Promise<void>;
}

export async function buildTestApp(db: TestDatabase, env: Record<string, string> = {}): Promise<TestApp> {
  const config = loadConfig({ CAREBOOK_JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'silent', ...env });
  const metrics = createMetrics({ queueStats: () => queueStats(db.pool) });
  const app = await buildApp({ config, pool: db.pool, logger: createLogger('silent'), metrics });
  return { app, metrics, close: () => app.close() };
}

export function token(
  claims: { sub?: string; role: AppRole; clinic_id?: string | null; patient_id?: string | null },
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
