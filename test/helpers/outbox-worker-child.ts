// Child process for the outbox fault tests (test/helpers/outbox-faults.ts): a real queue worker
// running the webhook kind and the outbox kinds against the fake providers, the outbox's with a
// short lease, so that a test can SIGKILL it mid-call or SIGSTOP it past its lease. OUTBOX_ENV
// holds the providers' variables (JSON); OUTBOX_LEASE the lease in seconds (the client timeout is
// a third of it, as in production). It logs at warn to stdout (JSON lines: a test waits for
// "lease lost"), and runs until it is killed or sent SIGTERM.
import { createPool } from '../../src/db/pool.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { outboxQueueKinds } from '../../src/outbound/index.js';
import { QueueWorker } from '../../src/queue/worker.js';
import { webhookKind } from '../../src/webhooks/queue-kind.js';
import { outboxConfig } from './outbox.js';

const env = (name: string) => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};

const config = outboxConfig(JSON.parse(env('OUTBOX_ENV')) as Record<string, string>);
const lease = Number(env('OUTBOX_LEASE'));
const metrics = createMetrics();
const kinds = [
  webhookKind(config.worker, metrics, config.outbound.reminderOffsetsSeconds),
  ...outboxQueueKinds(config.outbound, { publicUrl: config.webhooks.publicUrl }, lease).kinds,
];
const pool = createPool(env('DATABASE_URL'), { max: kinds.length * 2 + 2, pipeline: true });
const worker = new QueueWorker({
  pool,
  listenUrl: null,
  logger: createLogger('warn'),
  metrics,
  kinds,
  workerId: env('OUTBOX_WORKER_ID'),
  jitter: 1,
  pollMs: 50,
});
worker.start();
process.stdout.write('started\n');
process.on('SIGTERM', () => {
  void worker.stop().then(async () => {
    await pool.end();
    process.exit(0);
  });
});
