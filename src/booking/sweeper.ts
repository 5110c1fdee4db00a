// The hold sweeper: every interval, expire lapsed unpaid holds (freeing their slots) and purge
// idempotency records past retention. Safe to run in several processes (SKIP LOCKED inside).
import type { Logger } from 'pino';
import type { Pool } from '../db/pool.js';
import type { Metrics } from '../observability/metrics.js';
import { sweep } from './service.js';

export interface Sweeper {
  stop(): Promise<void>;
}

export function startSweeper(deps: {
  pool: Pool;
  metrics: Metrics;
  logger: Logger;
  intervalMs?: number;
}): Sweeper {
  const intervalMs = deps.intervalMs ?? 30_000;
  let running: Promise<void> = Promise.resolve();
  const tick = () => {
    running = sweep(deps).then(
      ({ expired, purged }) => {
        if (expired || purged)
          deps.logger.info({ expired, purged }, 'sweeper: holds expired, idempotency records purged');
      },
      (error: unknown) => deps.logger.error({ err: error }, 'sweeper run failed; will retry'),
    );
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
