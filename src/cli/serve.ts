// carebook serve (the API) and carebook dev (what `npm start` runs: embedded database unless
// DATABASE_URL is set, migrations, demo data, the hold sweeper, the API, demo tokens).
import { parseArgs } from 'node:util';
import { startSweeper } from '../booking/sweeper.js';
import { type Config, ConfigError, loadConfig } from '../config.js';
import { type DatabaseHandle, openDatabase } from '../db/database.js';
import { migrateUp } from '../db/migrate/runner.js';
import { createPool, type Pool } from '../db/pool.js';
import { buildApp } from '../http/app.js';
import { signToken } from '../http/auth.js';
import { listen } from '../http/server.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { queueStats } from '../webhooks/queue.js';
import { WebhookWorker } from '../webhooks/worker.js';
import { waitForShutdown } from './lifecycle.js';
import { withDevSecret } from './secrets.js';

export async function runServe(args: string[]): Promise<number> {
  parseArgs({ args, options: {} });
  const config = loadConfig();
  if (!config.jwtSecret && !config.jwksUrl) {
    throw new ConfigError([
      'set CAREBOOK_JWT_SECRET (development) or CAREBOOK_JWKS_URL (production) so that tokens can be verified',
    ]);
  }
  const logger = createLogger(config.logLevel);
  const database = await openDatabase(config, (line) => logger.debug({ source: 'postgres' }, line));
  return serveUntilSignalled({ config, logger, database, background: false, announce: () => {} });
}

export async function runDev(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { 'demo-data': { type: 'boolean' } } });
  const config = await withDevSecret(loadConfig());
  const logger = createLogger(config.logLevel);
  const database = await openDatabase(config, (line) => logger.debug({ source: 'postgres' }, line));
  // Demo data by default on the embedded database only: a real DATABASE_URL must ask for it.
  const demoData = values['demo-data'] ?? database.embedded !== null;
  try {
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
  return serveUntilSignalled({
    config,
    logger,
    database,
    background: true,
    announce: async (url) => {
      const where = database.embedded
        ? `embedded PostgreSQL ${database.serverVersion} in ${config.dataDir}`
        : 'DATABASE_URL';
      console.log(`\nCarebook is running at ${url}  (database: ${where})`);
      console.log(
        `  health ${url}/healthz   ready ${url}/readyz   API docs ${url}/docs   metrics ${url}/metrics`,
      );
      if (demoData && config.jwtSecret) console.log(await demoTokens(config.jwtSecret));
    },
  });
}

interface ServeOptions {
  config: Config;
  logger: Logger;
  database: DatabaseHandle;
  /** The webhook worker and hold sweeper in this process too (development). */
  background: boolean;
  announce: (url: string) => void | Promise<void>;
}

async function serveUntilSignalled({
  config,
  logger,
  database,
  background,
  announce,
}: ServeOptions): Promise<number> {
  const pool = createPool(database.url, { max: config.dbPoolMax, logger, applicationName: 'carebook-api' });
  const metrics = createMetrics({ queueStats: () => queueStats(pool) });
  try {
    const app = await buildApp({ config, pool, logger, metrics });
    const server = await listen(app, config.host, config.port);
    const sweep = background ? startSweeper({ pool, metrics, logger }) : null;
    const worker = background
      ? new WebhookWorker({ pool, databaseUrl: database.url, logger, metrics, config: config.worker })
      : null;
    worker?.start();
    await announce(server.url);
    return await waitForShutdown(logger, async () => {
      await server.close();
      await worker?.stop();
      await sweep?.stop();
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
  const pool: Pool = createPool(databaseUrl, { max: 1 });
  try {
    const result = await pool.query<{ added: number }>('SELECT seed_demo_data(28) AS added');
    logger.info({ slotsAdded: result.rows[0]?.added ?? 0 }, 'demo data ready');
  } finally {
    await pool.end();
  }
}

/** Ids of 00010's demo rows. */
export const DEMO = {
  clinicId: '11111111-1111-4111-8111-111111111111',
  patientId: 'a3000000-0000-4000-8000-000000000001',
  clinicAdminId: 'a1000000-0000-4000-8000-000000000003',
};

async function demoTokens(secret: string): Promise<string> {
  const patient = await signToken(secret, {
    sub: 'demo-patient-pat',
    role: 'patient',
    clinic_id: DEMO.clinicId,
    patient_id: DEMO.patientId,
  });
  const staff = await signToken(secret, {
    sub: DEMO.clinicAdminId,
    role: 'clinic_admin',
    clinic_id: DEMO.clinicId,
  });
  const admin = await signToken(secret, { sub: 'demo-platform-admin', role: 'platform_admin' });
  return [
    '',
    'Demo tokens for Harbor Family Clinic (valid 12 hours; `npx carebook token --help` makes more):',
    `  export CLINIC=${DEMO.clinicId}`,
    `  export PATIENT_TOKEN=${patient}   # Pat Demo, a patient`,
    `  export STAFF_TOKEN=${staff}   # Hana, clinic admin`,
    `  export ADMIN_TOKEN=${admin}   # platform admin`,
    '',
  ].join('\n');
}
