// Builds the HTTP application (no listening here: tests use app.inject or server.ts listens).
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Pool } from '../db/pool.js';
import { ProblemSchema, registerErrorHandling } from './errors.js';
import { healthRoutes } from './health.js';

export interface AppDependencies {
  config: Config;
  pool: Pool;
  logger: Logger;
}

export const MAX_BODY_BYTES = 1024 * 1024;

export async function buildApp(deps: AppDependencies): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: MAX_BODY_BYTES,
    // Node 20 ignores Fastify's top-level requestTimeout; these bound a stalled body (facts.md).
    http: { requestTimeout: 30_000, connectionsCheckingInterval: 5_000 } as never,
    trustProxy: false,
  });
  app.addSchema(ProblemSchema);
  registerErrorHandling(app);
  await app.register(healthRoutes, { pool: deps.pool });
  return app;
}
