// The queue kinds a Carebook worker runs, listed once: `carebook worker`, `serve` with background
// work, and the metrics and /admin numbers all take them from here. Inbound webhook events, and the
// outbox kinds of every configured outbound provider.
import type { Config } from '../config.js';
import type { Metrics } from '../observability/metrics.js';
import { outboxQueueKinds } from '../outbound/index.js';
import { webhookKind } from '../webhooks/queue-kind.js';
import type { QueueKind } from './kind.js';

export interface QueueSetup {
  kinds: QueueKind[];
  /** The outbox kinds that do not run, and why (a provider not configured): their rows wait. */
  waiting: Array<{ kind: string; reason: string }>;
}

export function queueSetup(config: Config, metrics: Metrics): QueueSetup {
  const outbox = outboxQueueKinds(
    config.outbound,
    { publicUrl: config.webhooks.publicUrl },
    config.worker.leaseSeconds,
  );
  return {
    kinds: [webhookKind(config.worker, metrics, config.outbound.reminderOffsetsSeconds), ...outbox.kinds],
    waiting: outbox.waiting,
  };
}

export function queueKinds(config: Config, metrics: Metrics): QueueKind[] {
  return queueSetup(config, metrics).kinds;
}
