// Child process for test/queue/crash.test.ts: a real queue worker over the test database, whose
// handler (in-transaction, over webhook events) or call (claim–call–settle, over test_calls) kills
// its own process with SIGKILL when it meets a poison item — as a crash in a native module or an
// out-of-memory kill would. Settings come from the environment; it runs until it dies or is stopped.
import { createPool } from '../../src/db/pool.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import type { QueueKind } from '../../src/queue/kind.js';
import { QueueWorker } from '../../src/queue/worker.js';
import { webhookKind } from '../../src/webhooks/queue-kind.js';
import { testCallKind } from './queue.js';

const env = (name: string) => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const die = (): never => {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
};

const metrics = createMetrics();
const settings = {
  batchSize: Number(env('QUEUE_BATCH')),
  concurrency: Number(process.env.QUEUE_CONCURRENCY ?? 1),
  leaseSeconds: Number(process.env.QUEUE_LEASE ?? 30),
  maxAttempts: Number(env('QUEUE_MAX_ATTEMPTS')),
  backoff: { baseSeconds: 0.1, capSeconds: 0.5 },
};
let kind: QueueKind;
if (env('QUEUE_MODE') === 'in_transaction') {
  const webhooks = webhookKind({ ...settings, metricsPort: 0 }, metrics, []);
  kind = {
    ...webhooks,
    settings,
    handlerFor: (event) =>
      event.eventType === 'test.poison' ? async () => die() : webhooks.handlerFor(event),
  };
} else {
  const calls = testCallKind(env('PROVIDER_URL'), { settings });
  kind = {
    ...calls,
    call: (item, job, signal) => (item.behaviour === 'poison' ? die() : calls.call(item, job, signal)),
  };
}
const pool = createPool(env('DATABASE_URL'), { max: settings.concurrency * 2 + 2, pipeline: true });
const worker = new QueueWorker({
  pool,
  listenUrl: env('DATABASE_URL'),
  logger: createLogger('warn'),
  metrics,
  kinds: [kind],
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
