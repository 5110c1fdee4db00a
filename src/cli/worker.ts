// carebook worker — the webhook worker and the hold sweeper, with /metrics and /healthz on
// CAREBOOK_WORKER_METRICS_PORT for Prometheus. `--drain` handles what is due and exits (ops, tests).
import { parseArgs } from 'node:util';
import Fastify from 'fastify';
import { startSweeper } from '../booking/sweeper.js';
import { loadConfig } from '../config.js';
import { openDatabase } from '../db/database.js';
import { createPool } from '../db/pool.js';
import { createLogger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { queueStats } from '../webhooks/queue.js';
import { WebhookWorker } from '../webhooks/worker.js';
import { waitForShutdown } from './lifecycle.js';

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      drain: { type: 'boolean', default: false },
      'metrics-port': { type: 'string' },
      id: { type: 'string' },
    },
  });
  const config = loadConfig();
  const logger = createLogger(config.logLevel, 'carebook-worker');
  const database = await openDatabase(config, (line) => logger.debug({ source: 'postgres' }, line));
  const pool = createPool(database.url, {
    max: config.worker.concurrency + 2,
    logger,
    applicationName: 'carebook-worker',
  });
  const metrics = createMetrics({ queueStats: () => queueStats(pool) });
  const worker = new WebhookWorker({
    pool,
    databaseUrl: database.url,
    logger,
    metrics,
    config: config.worker,
    workerId: values.id,
  });
  const close = async () => {
    await pool.end();
    await database.close();
  };

  if (values.drain) {
    try {
      const handled = await worker.drain();
      console.log(`drained: ${handled} event(s) handled`);
      return 0;
    } finally {
      await close();
    }
  }

  const metricsPort =
    values['metrics-port'] === undefined ? config.worker.metricsPort : Number(values['metrics-port']);
  const http = Fastify({ logger: false });
  http.get('/healthz', async () => ({ status: 'ok', worker: worker.id }));
  http.get('/metrics', async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
  await http.listen({ host: config.host, port: metricsPort });
  worker.start();
  const sweeper = startSweeper({ pool, metrics, logger });
  logger.info(
    { worker: worker.id, metricsPort: (http.server.address() as { port: number }).port },
    'worker started',
  );
  return waitForShutdown(logger, async () => {
    await worker.stop();
    await sweeper.stop();
    await http.close();
    await close();
  });
}
