// Graceful shutdown for long-running commands: the first SIGINT/SIGTERM runs the cleanup steps in
// order (stop accepting work, drain, close the pool, stop the embedded database); a second one
// exits at once (the embedded database still gets its fast-shutdown signal on exit).
//
// One Ctrl-C under `npm start` arrives more than once: the terminal signals the whole foreground
// process group, and npm (and tsx, when it runs us) forward the same signal to their child a few
// milliseconds later. Signals within RELAY_WINDOW_MS of the first count as that first one.
import type { Logger } from 'pino';

export const RELAY_WINDOW_MS = 1000;

const SIGNAL_EXIT_CODES: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143 };
const exitAtOnce = (signal: NodeJS.Signals) => process.exit(SIGNAL_EXIT_CODES[signal] ?? 1);

/**
 * Until a command waits for its shutdown, a signal ends the process at once, but through
 * process.exit, so that 'exit' handlers still run: the embedded database, in a session of its own,
 * gets its fast-shutdown signal there rather than living on.
 */
export function exitOnSignal(): void {
  process.on('SIGINT', exitAtOnce);
  process.on('SIGTERM', exitAtOnce);
}

export function waitForShutdown(logger: Logger, cleanup: () => Promise<void>): Promise<number> {
  return new Promise((resolve) => {
    let firstAt: number | null = null;
    const onSignal = (signal: NodeJS.Signals) => {
      const now = performance.now();
      if (firstAt !== null) {
        if (now - firstAt < RELAY_WINDOW_MS) return; // the same keypress, relayed
        logger.warn({ signal }, 'second signal: exiting without finishing cleanup');
        exitAtOnce(signal);
      }
      firstAt = now;
      logger.info({ signal }, 'shutting down (a second Ctrl-C exits at once)');
      cleanup().then(
        () => resolve(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown did not finish cleanly');
          resolve(1);
        },
      );
    };
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.removeListener(signal, exitAtOnce);
      process.on(signal, onSignal);
    }
  });
}
