// Graceful shutdown for long-running commands: the first SIGINT/SIGTERM runs the cleanup steps in
// order (stop accepting work, drain, close the pool, stop the embedded database); a second one
// exits at once.
import type { Logger } from 'pino';

export function waitForShutdown(logger: Logger, cleanup: () => Promise<void>): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting without finishing cleanup');
        process.exit(130);
      }
      stopping = true;
      logger.info({ signal }, 'shutting down');
      cleanup().then(
        () => resolve(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown did not finish cleanly');
          resolve(1);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
