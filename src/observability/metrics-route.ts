// GET /metrics for Prometheus, wherever it is served: on the API port only behind
// CAREBOOK_METRICS_TOKEN, or on a port of its own (CAREBOOK_METRICS_PORT for `serve`,
// CAREBOOK_WORKER_METRICS_PORT for `worker`), token or not. The numbers carry no patient data, but
// they describe the business (bookings, conflicts, queue depth) and are no one else's to read.
import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Metrics } from './metrics.js';

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(/^Bearer\s+(\S+)$/i.exec(header ?? '')?.[1] ?? '', 'utf8');
  const expected = Buffer.from(token, 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function registerMetricsRoute(
  app: FastifyInstance,
  options: { metrics: Metrics; token: string | null },
): void {
  app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    if (options.token !== null && !tokenMatches(request.headers.authorization, options.token)) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .type('text/plain; charset=utf-8')
        .send('metrics need Authorization: Bearer <CAREBOOK_METRICS_TOKEN>\n');
    }
    return reply.type(options.metrics.registry.contentType).send(await options.metrics.registry.metrics());
  });
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** A separate listener for /metrics and /healthz (worker, or `serve` with CAREBOOK_METRICS_PORT). */
export async function startMetricsServer(options: {
  host: string;
  port: number;
  metrics: Metrics;
  token: string | null;
  health: () => Record<string, unknown>;
}): Promise<MetricsServer> {
  const http = Fastify({ logger: false });
  http.get('/healthz', async (_request, reply) =>
    reply.header('cache-control', 'no-store').send({ status: 'ok', ...options.health() }),
  );
  registerMetricsRoute(http, options);
  await http.listen({ host: options.host, port: options.port });
  return { port: (http.server.address() as { port: number }).port, close: () => http.close() };
}
