// carebook worker — the queues (webhook events; src/queue/kinds.ts lists them), the hold sweeper
// and the slot roller, with /metrics and /healthz on CAREBOOK_WORKER_METRICS_PORT for Prometheus.
// `--drain` handles what is due and exits (ops, tests).
import { startSweeper } from '../booking/sweeper.js';
import { loadConfig } from '../config.js';
import { openDatabase } from '../db/database.js';
import { connectServiceDatabase } from '../db/service.js';
import { createLogger } from '../observability/logger.js';
import { createDatabaseMetrics } from '../observability/metrics.js';
import { startMetricsServer } from '../observability/metrics-route.js';
import { OUTBOX_KINDS } from '../outbound/outbox.js';
import { queueKinds } from '../queue/kinds.js';
import { QueueWorker } from '../queue/worker.js';
import { startSlotRoller } from '../schedules/roller.js';
import { command, parse } from './command.js';
import { waitForShutdown } from './lifecycle.js';

export async function run(args: string[]): Promise<number> {
  const { options } = parse<{ drain?: boolean; metricsPort?: string; id?: string }>(
    command(
      'worker',
      'the queues (webhook events), the hold sweeper and the slot roller, with /metrics and /healthz on CAREBOOK_WORKER_METRICS_PORT',
    )
      .option('--drain', 'handle what is due, then exit (ops, tests)')
      .option(
        '--metrics-port <port>',
        'serve /metrics and /healthz on this port (overrides CAREBOOK_WORKER_METRICS_PORT; 0 picks one)',
      )
      .option(
        '--id <name>',
        'the worker id in leases and logs (default: host name, pid and a random suffix)',
      ),
    args,
  );
  // The flag goes through the configuration's own validation, as the variable it stands for.
  const config = loadConfig(
    options.metricsPort === undefined
      ? process.env
      : { ...process.env, CAREBOOK_WORKER_METRICS_PORT: options.metricsPort },
  );
  const logger = createLogger(config.logLevel, 'carebook-worker');
  const database = await openDatabase(config, (line) => logger.debug({ source: 'postgres' }, line));
  const { pool, listenUrl } = await connectServiceDatabase(config, database.url, {
    applicationName: 'carebook-worker',
    // Each webhook loop holds one connection for its batch and briefly borrows a second to record
    // it; each outbox kind's loop (one per configured kind) can claim while its last settle runs;
    // two more for the sweeper, the gauges and housekeeping. Connections open only when used.
    max: (config.worker.concurrency + OUTBOX_KINDS.length) * 2 + 2,
    logger,
    pipeline: true,
  }).catch(async (error: unknown) => {
    await database.close();
    throw error;
  });
  const metrics = createDatabaseMetrics(pool);
  const worker = new QueueWorker({
    pool,
    listenUrl,
    logger,
    metrics,
    kinds: queueKinds(config, metrics),
    workerId: options.id,
  });
  const close = async () => {
    await pool.end();
    await database.close();
  };

  if (options.drain) {
    try {
      const handled = await worker.drain();
      console.log(`drained: ${handled} item(s) handled`);
      return 0;
    } finally {
      await close();
    }
  }

  const http = await startMetricsServer({
    host: config.host,
    port: config.worker.metricsPort,
    metrics,
    token: config.http.metricsToken,
    health: () => ({ worker: worker.id }),
  });
  worker.start();
  const sweeper = startSweeper({ pool, metrics, logger });
  const slotRoller = startSlotRoller({ pool, logger });
  const stopped = waitForShutdown(logger, async () => {
    await worker.stop();
    await sweeper.stop();
    await slotRoller.stop();
    await http.close();
    await close();
  });
  logger.info({ worker: worker.id, metricsPort: http.port }, 'worker started');
  return stopped;
}
