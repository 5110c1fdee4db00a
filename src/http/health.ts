// Liveness and readiness. /healthz: the process answers. /readyz: the database answers and every
// migration on disk is applied and verified — a load balancer sends traffic only then. Its
// `warnings` (what is not configured, e.g. an outbound provider whose outbox rows wait) never make
// it not ready.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { readDiskState, readStatusAsReader } from '../db/migrate/runner.js';
import type { Pool, PoolClient } from '../db/pool.js';

const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]),
  database: Type.Union([Type.Literal('ok'), Type.Literal('unreachable')]),
  migrations: Type.Object({
    applied: Type.Integer(),
    pending: Type.Array(Type.String()),
    problems: Type.Array(Type.String()),
  }),
  warnings: Type.Array(Type.String()),
});

export async function healthRoutes(
  app: FastifyInstance,
  options: { pool: Pool; warnings: readonly string[] },
): Promise<void> {
  // The files a process runs with do not change under it: read and hash them once, not per probe.
  const disk = readDiskState();
  disk.catch(() => {}); // a failure surfaces in the first probe that awaits it
  app.get(
    '/healthz',
    { schema: { hide: true, response: { 200: Type.Object({ status: Type.Literal('ok') }) } } },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    { schema: { hide: true, response: { 200: Readiness, 503: Readiness } } },
    async (request, reply) => {
      let client: PoolClient | null = null;
      try {
        client = await options.pool.connect();
        const status = await readStatusAsReader(client, await disk);
        const body = {
          database: 'ok' as const,
          warnings: [...options.warnings],
          migrations: {
            applied: status.applied.length,
            pending: status.pending.map((file) => file.name),
            problems: status.problems.map((problem) => problem.message),
          },
        };
        const ready = body.migrations.pending.length === 0 && body.migrations.problems.length === 0;
        return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', ...body });
      } catch (error) {
        request.log.warn({ err: error }, 'readiness check could not reach the database');
        return reply.code(503).send({
          status: 'not_ready',
          database: 'unreachable',
          migrations: { applied: 0, pending: [], problems: [] },
          warnings: [...options.warnings],
        });
      } finally {
        client?.release();
      }
    },
  );
}
