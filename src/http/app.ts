// Builds the HTTP application (no listening here: tests use app.inject, server.ts listens).
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { appointmentRoutes } from '../booking/routes.js';
import { clinicRoutes } from '../clinics/routes.js';
import type { Config } from '../config.js';
import type { Pool } from '../db/pool.js';
import { dashboardPageRoutes, dashboardStatsRoutes } from '../observability/dashboard.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import { webhookAdminRoutes } from '../webhooks/admin-routes.js';
import { queueStats } from '../webhooks/queue.js';
import { webhookRoutes } from '../webhooks/routes.js';
import { authenticate, createTokenVerifier, type TokenVerifier } from './auth.js';
import { registerErrorHandling } from './errors.js';
import { healthRoutes } from './health.js';
import { MAX_BODY_BYTES } from './limits.js';
import { registerValidation } from './validation.js';

export interface AppDependencies {
  config: Config;
  pool: Pool;
  logger: Logger;
  metrics?: Metrics;
  /** Defaults to one built from the configuration (secret or JWKS). */
  verifyToken?: TokenVerifier;
}

export async function buildApp(deps: AppDependencies): Promise<FastifyInstance> {
  const metrics = deps.metrics ?? createMetrics({ queueStats: () => queueStats(deps.pool) });
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: MAX_BODY_BYTES,
    // Node 20 ignores Fastify's top-level requestTimeout; these bound a stalled body (facts.md).
    http: { requestTimeout: 30_000, connectionsCheckingInterval: 5_000 } as never,
    trustProxy: false,
  });
  registerErrorHandling(app);
  registerValidation(app);

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Carebook API',
        version: '0.1.0',
        description:
          'Booking and integrations backend for clinics. Errors are application/problem+json with a stable `code`.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(healthRoutes, { pool: deps.pool });
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );

  const verifyToken =
    deps.verifyToken ??
    createTokenVerifier({
      jwtSecret: deps.config.jwtSecret,
      jwtSecrets: deps.config.jwtVerificationSecrets,
      jwksUrl: deps.config.jwksUrl,
      issuer: deps.config.jwtIssuer,
      audience: deps.config.jwtAudience,
    });
  await app.register(async (api) => {
    api.addHook('onRequest', authenticate(verifyToken));
    await api.register(appointmentRoutes, { pool: deps.pool, metrics, holdMinutes: deps.config.holdMinutes });
    await api.register(clinicRoutes, { pool: deps.pool });
    await api.register(webhookAdminRoutes, { pool: deps.pool, webhooks: deps.config.webhooks });
    await api.register(dashboardStatsRoutes, { pool: deps.pool, metrics });
  });
  await app.register(dashboardPageRoutes);
  await app.register(webhookRoutes, { pool: deps.pool, metrics, webhooks: deps.config.webhooks });
  return app;
}
