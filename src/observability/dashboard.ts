// /admin — the operations dashboard. The page and its script are public (they hold no data);
// /admin/stats, like every /admin API, needs a platform_admin token.
import type { FastifyInstance } from 'fastify';
import type { Pool } from '../db/pool.js';
import { principalOf, requireRole } from '../http/auth.js';
import { AUTHENTICATED, DATABASE, json, problemResponses } from '../http/responses.js';
import { ref } from '../http/schemas.js';
import { DASHBOARD_HTML } from './dashboard-page.js';
import { DASHBOARD_SCRIPT } from './dashboard-script.js';
import type { Metrics } from './metrics.js';
import { DashboardStats } from './schemas.js';
import { dashboardStats } from './stats.js';

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** The page and its script (no authentication: they contain no data). */
export async function dashboardPageRoutes(app: FastifyInstance): Promise<void> {
  app.get('/admin', { schema: { hide: true } }, async (_request, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', CSP)
      .header('cache-control', 'no-store')
      .send(DASHBOARD_HTML),
  );
  app.get('/admin/dashboard.js', { schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-store').send(DASHBOARD_SCRIPT),
  );
}

/** The numbers the page polls (registered behind authentication). */
export async function dashboardStatsRoutes(
  app: FastifyInstance,
  deps: { pool: Pool; metrics: Metrics; kinds: readonly string[]; warnings: readonly string[] },
): Promise<void> {
  app.get(
    '/admin/stats',
    {
      schema: {
        operationId: 'getDashboardStats',
        tags: ['admin'],
        summary: 'Live numbers for the operations dashboard',
        description: 'What /admin polls. Platform admins only.',
        response: {
          200: json('Booking and webhook numbers, now.', ref(DashboardStats)),
          ...problemResponses('forbidden', ...AUTHENTICATED, ...DATABASE),
        },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      requireRole(principal, 'platform_admin');
      return dashboardStats(deps.pool, deps.metrics, principal.sub, deps.kinds, deps.warnings);
    },
  );
}
