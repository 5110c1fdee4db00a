// carebook serve (the API) and carebook dev (what `npm start` runs: embedded database unless
// DATABASE_URL is set, migrations, demo data, API).
import { parseArgs } from 'node:util';
import { type Config, loadConfig } from '../config.js';
import { type DatabaseHandle, openDatabase } from '../db/database.js';
import { migrateUp } from '../db/migrate/runner.js';
import { createPool } from '../db/pool.js';
import { buildApp } from '../http/app.js';
import { listen } from '../http/server.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { waitForShutdown } from './lifecycle.js';

export async function runServe(args: string[]): Promise<number> {
  parseArgs({ args, options: {} });
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const database = await openDatabase(config, (line) => logger.debug({ source: 'postgres' }, line));
  return serveUntilSignalled(config, logger, database, () => {});
}

export async function runDev(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { 'demo-data': { type: 'boolean' } } });
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const database = await openDatabase(config, (line) => logger.debug({ source: 'postgres' }, line));
  try {
    // Demo data by default on the embedded database only: a real DATABASE_URL must ask for it.
    const demoData = values['demo-data'] ?? database.embedded !== null;
    const applied = await migrateUp({
      databaseUrl: database.url,
      demoData,
      log: (line) => logger.debug(line),
    });
    logger.info({ applied: applied.length }, applied.length ? 'migrations applied' : 'schema up to date');
    if (demoData) await rollDemoSlotsForward(database.url, logger);
  } catch (error) {
    await database.close();
    throw error;
  }
  return serveUntilSignalled(config, logger, database, (url) => {
    const where = database.embedded
      ? `embedded PostgreSQL ${database.serverVersion} in ${config.dataDir}`
      : 'DATABASE_URL';
    console.log(`\nCarebook is running at ${url}  (database: ${where})\n  ${url}/healthz  ${url}/readyz\n`);
  });
}

async function serveUntilSignalled(
  config: Config,
  logger: Logger,
  database: DatabaseHandle,
  announce: (url: string) => void,
): Promise<number> {
  const pool = createPool(database.url, { max: config.dbPoolMax, logger, applicationName: 'carebook-api' });
  try {
    const app = await buildApp({ config, pool, logger });
    const server = await listen(app, config.host, config.port);
    announce(server.url);
    return await waitForShutdown(logger, async () => {
      await server.close();
      await pool.end();
      await database.close();
    });
  } catch (error) {
    await pool.end().catch(() => {});
    await database.close();
    throw error;
  }
}

/** Keeps four weeks of demo slots ahead of today, however long ago the database was created. */
async function rollDemoSlotsForward(databaseUrl: string, logger: Logger): Promise<void> {
  const pool = createPool(databaseUrl, { max: 1 });
  try {
    const result = await pool.query<{ added: number }>('SELECT seed_demo_data(28) AS added');
    logger.info({ slotsAdded: result.rows[0]?.added ?? 0 }, 'demo data ready');
  } finally {
    await pool.end();
  }
}
