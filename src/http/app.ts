// Builds the HTTP application (no listening here: tests use app.inject, server.ts listens).
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { appointmentRoutes } from '../booking/routes.js';
import { BOOKING_SCHEMAS } from '../booking/schemas.js';
import { clinicRoutes } from '../clinics/routes.js';
import { CLINIC_SCHEMAS } from '../clinics/schemas.js';
import type { Config } from '../config.js';
import type { Pool } from '../db/pool.js';
import { dashboardPageRoutes, dashboardStatsRoutes } from '../observability/dashboard.js';
import { createDatabaseMetrics, type Metrics } from '../observability/metrics.js';
import { registerMetricsRoute } from '../observability/metrics-route.js';
import { OBSERVABILITY_SCHEMAS } from '../observability/schemas.js';
import { outboxAdminRoutes } from '../outbound/admin-routes.js';
import { outboundServices } from '../outbound/index.js';
import { outboundRoutes } from '../outbound/routes.js';
import { OUTBOUND_SCHEMAS } from '../outbound/schemas.js';
import { queueSetup } from '../queue/kinds.js';
import { availabilityRoutes } from '../schedules/availability-routes.js';
import { datedEntryRoutes } from '../schedules/dated-routes.js';
import { scheduleRoutes } from '../schedules/routes.js';
import { SCHEDULE_SCHEMAS } from '../schedules/schemas.js';
import { webhookAdminRoutes } from '../webhooks/admin-routes.js';
import { webhookRoutes } from '../webhooks/routes.js';
import { WEBHOOK_SCHEMAS } from '../webhooks/schemas.js';
import { authenticate, createTokenVerifier, type TokenVerifier } from './auth.js';
import { edgeServerOptions, registerEdge } from './edge.js';
import { ProblemSchema, registerErrorHandling } from './errors.js';
import { healthRoutes } from './health.js';
import { MAX_BODY_BYTES } from './limits.js';
import { openapiOptions } from './openapi.js';
import { registerValidation } from './validation.js';

/** The named schemas routes reference ($ref), listed in the document's components.schemas. */
const COMPONENT_SCHEMAS = [
  ...OUTBOUND_SCHEMAS,
  ProblemSchema,
  ...BOOKING_SCHEMAS,
  ...CLINIC_SCHEMAS,
  ...WEBHOOK_SCHEMAS,
  ...OBSERVABILITY_SCHEMAS,
  ...SCHEDULE_SCHEMAS,
];

/**
 * /docs (Swagger UI) under a CSP of its own (security review L8): its scripts and styles are
 * served from /docs itself (no inline script), it calls only this server, and no other site may
 * frame it. No validator badge: it would call validator.swagger.io.
 */
const DOCS_PAGE = {
  uiConfig: { validatorUrl: null },
  staticCSP: {
    'default-src': ["'self'"],
    'script-src': ["'self'"],
    'script-src-attr': ["'none'"],
    // Swagger UI sets inline styles (as /admin does); scripts stay 'self' only.
    'style-src': ["'self'", "'unsafe-inline'"],
    'img-src': ["'self'", 'data:'],
    'connect-src': ["'self'"],
    'object-src': ["'none'"],
    'base-uri': ["'none'"],
    'form-action': ["'none'"],
    'frame-ancestors': ["'none'"],
  },
};

export interface AppDependencies {
  config: Config;
  pool: Pool;
  /** Read-only listings go here when set (a streaming replica); bookings and writes never do. */
  readPool?: Pool;
  logger: Logger;
  metrics?: Metrics;
  /** Defaults to one built from the configuration (secret or JWKS). */
  verifyToken?: TokenVerifier;
}

export async function buildApp(deps: AppDependencies): Promise<FastifyInstance> {
  const metrics = deps.metrics ?? createDatabaseMetrics(deps.pool);
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: MAX_BODY_BYTES,
    ...edgeServerOptions(deps.config.http),
    // /admin/ is /admin: one route per path, whatever the slash (the 405 handler agrees).
    routerOptions: { ignoreTrailingSlash: true },
  });
  registerErrorHandling(app);
  registerValidation(app);
  const limits = await registerEdge(app, deps.config.http);

  await app.register(swagger, openapiOptions(deps.config.webhooks.publicUrl));
  for (const schema of COMPONENT_SCHEMAS) app.addSchema(schema);
  await app.register(swaggerUi, { routePrefix: '/docs', ...DOCS_PAGE });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const queue = queueSetup(deps.config, metrics);
  const notConfigured = queue.waiting.map(({ kind, reason }) => `outbox.${kind}: ${reason}; its rows wait`);
  await app.register(healthRoutes, { pool: deps.pool, warnings: notConfigured });
  // On the API port only behind a token; with CAREBOOK_METRICS_PORT, serve.ts listens for it apart.
  if (deps.config.http.metricsToken !== null && deps.config.http.metricsPort === null) {
    registerMetricsRoute(app, { metrics, token: deps.config.http.metricsToken });
  }

  const verifyToken =
    deps.verifyToken ??
    createTokenVerifier({
      jwtSecret: deps.config.jwtSecret,
      jwtSecrets: deps.config.jwtVerificationSecrets,
      jwksUrl: deps.config.jwksUrl,
      issuer: deps.config.jwtIssuer,
      audience: deps.config.jwtAudience,
      maxAgeSeconds: deps.config.jwtMaxAgeSeconds,
    });
  await app.register(async (api) => {
    api.addHook('onRequest', authenticate(verifyToken, limits.authFailures));
    const readPool = deps.readPool ?? deps.pool;
    await api.register(appointmentRoutes, {
      pool: deps.pool,
      metrics,
      holdMinutes: deps.config.holdMinutes,
      reminderOffsetsSeconds: deps.config.outbound.reminderOffsetsSeconds,
      rateLimit: limits.bookingRouteLimit,
    });
    await api.register(clinicRoutes, { pool: deps.pool, readPool });
    await api.register(scheduleRoutes, { pool: deps.pool, readPool });
    await api.register(datedEntryRoutes, { pool: deps.pool, readPool });
    await api.register(availabilityRoutes, { readPool });
    await api.register(webhookAdminRoutes, { pool: deps.pool, webhooks: deps.config.webhooks });
    await api.register(outboundRoutes, { pool: deps.pool, services: outboundServices(deps.config.outbound) });
    await api.register(outboxAdminRoutes, { pool: deps.pool });
    await api.register(dashboardStatsRoutes, {
      pool: deps.pool,
      metrics,
      kinds: queue.kinds.map((kind) => kind.name),
      warnings: notConfigured,
    });
  });
  await app.register(dashboardPageRoutes);
  await app.register(webhookRoutes, {
    pool: deps.pool,
    metrics,
    webhooks: deps.config.webhooks,
    signatureFailures: limits.webhookFailures,
  });
  return app;
}
