// The worker's horizon roll: regenerate every practitioner when the worker starts and then every
// interval (nightly by default). The run at start is also what follows a tzdata upgrade — a new
// Node brings new tzdata, and regeneration rewrites every future slot whose instant or stored
// tzdata_version differs. Safe in several workers at once: each practitioner's regeneration takes
// its advisory lock, and a second pass over unchanged slots writes nothing.
import type { Logger } from 'pino';
import type { Pool } from '../db/pool.js';
import { regenerateAll } from './generate-all.js';
import { TZDATA_VERSION } from './regenerate.js';

export interface SlotRoller {
  stop(): Promise<void>;
}

export const DAY_MS = 24 * 3600_000;

export function startSlotRoller(deps: { pool: Pool; logger: Logger; intervalMs?: number }): SlotRoller {
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    // Chained, so a slow run is never overlapped by the next tick.
    running = running.then(async () => {
      try {
        const result = await regenerateAll(deps.pool, { actor: 'slot-roller' });
        deps.logger.info({ ...result, tzdata: TZDATA_VERSION }, 'slot roller: horizon regenerated');
      } catch (error) {
        deps.logger.error({ err: error }, 'slot roller run failed; will retry at the next interval');
      }
    });
  };
  tick();
  const timer = setInterval(tick, deps.intervalMs ?? DAY_MS);
  timer.unref();
  return {
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
