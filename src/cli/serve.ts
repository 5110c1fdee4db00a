// carebook serve (the API) and carebook dev (what `npm start` runs: embedded database unless
// DATABASE_URL is set, migrations, demo data, the hold sweeper, the API, demo tokens).
import { startSweeper } from '../booking/sweeper.js';
import { type Config, ConfigError, loadConfig } from '../config.js';
import { type DatabaseHandle, openDatabase } from '../db/database.js';
import { migrateUp } from '../db/migrate/runner.js';
import { createPool, type Pool } from '../db/pool.js';
import { connectServiceDatabase } from '../db/service.js';
import { buildApp } from '../http/app.js';
import { signToken } from '../http/auth.js';
import { listen } from '../http/server.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { createDatabaseMetrics } from '../observability/metrics.js';
import { startMetricsServer } from '../observability/metrics-route.js';
import { queueKinds } from '../queue/kinds.js';
import { QueueWorker } from '../queue/worker.js';
import { regenerateAll } from '../schedules/generate-all.js';
import { command, parse } from './command.js';
import { waitForShutdown } from './lifecycle.js';
import { withDevSecret } from './secrets.js';

export async function runServe(args: string[]): Promise<number> {
  parse(command('serve', 'the HTTP API (stateless: run as many as load needs)'), args);
  const config = loadConfig();
  if (!config.jwtSecret && !config.jwksUrl) {
    throw new ConfigError([
      'set CAREBOOK_JWT_SECRET (development) or CAREBOOK_JWKS_URL (production) so that tokens can be verified',
    ]);
  }
  const logger = createLogger(config.logLevel);
  const database = await openDatabase(config, (line) => logger.debug({ source: 'postgres' }, line));
  return serveUntilSignalled({
    config,
    logger,
    database,
    background: false,
    development: false,
    announce: () => {},
  });
}

export async function runDev(args: string[]): Promise<number> {
  const { options } = parse<{ demoData?: boolean; localProviders?: boolean }>(
    command(
      'dev',
      'embedded PostgreSQL unless DATABASE_URL is set, migrations, demo data, the API, the worker and the sweeper in one process',
    )
      .option('--demo-data', 'load the demo data (the default on the embedded database)')
      .option('--no-demo-data', 'do not load it')
      .option('--no-local-providers', 'do not start local fakes for the providers that are not configured'),
    args,
  );
  // Fakes first: the configuration is read once, with their variables laid under the real ones.
  // Imported here, not at the top: `serve` never loads the development fakes.
  const { startLocalProviders } = await import('../dev/local-providers.js');
  const local = options.localProviders === false ? null : await startLocalProviders(process.env);
  let config: Config;
  try {
    config = await withDevSecret(loadConfig({ ...process.env, ...local?.env }));
  } catch (error) {
    await local?.stop();
    throw error;
  }
  const logger = createLogger(config.logLevel);
  for (const line of local?.lines ?? []) logger.info(line);
  const database = await openDatabase(config, (line) => logger.debug({ source: 'postgres' }, line)).catch(
    async (error: unknown) => {
      await local?.stop();
      throw error;
    },
  );
  // Demo data by default on the embedded database only: a real DATABASE_URL must ask for it.
  const demoData = options.demoData ?? database.embedded !== null;
  try {
    const applied = await migrateUp({
      databaseUrl: database.ownerUrl,
      demoData,
      log: (line) => logger.debug(line),
    });
    logger.info({ applied: applied.length }, applied.length ? 'migrations applied' : 'schema up to date');
    await database.prepareServiceLogin();
    if (demoData) await rollDemoSlotsForward(database.ownerUrl, logger);
  } catch (error) {
    await database.close();
    await local?.stop();
    throw error;
  }
  return serveUntilSignalled({
    config,
    logger,
    database,
    background: true,
    development: true,
    companion: local,
    announce: async (url) => {
      local?.deliverTo(url);
      const where = database.embedded
        ? `embedded PostgreSQL ${database.serverVersion}, data in ${database.embedded.clusterDir}`
        : 'DATABASE_URL';
      console.log(`\nCarebook is running at ${url}  (database: ${where})`);
      console.log(
        `  health ${url}/healthz   ready ${url}/readyz   API docs ${url}/docs   metrics ${url}/metrics`,
      );
      if (local) {
        console.log(`  local fake providers (no account needed): ${local.lines.join(', ')}`);
        console.log(`  export FAKES=${local.controlUrl}   # GET $FAKES shows what they hold`);
      }
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
  /** `carebook dev`: a superuser login is warned about rather than refused. */
  development: boolean;
  announce: (url: string) => void | Promise<void>;
  /** Stopped last, after the worker (`carebook dev`'s local fake providers). */
  companion?: { stop(): Promise<void> } | null;
}

async function serveUntilSignalled({
  config,
  logger,
  database,
  background,
  development,
  announce,
  companion,
}: ServeOptions): Promise<number> {
  const service = await connectServiceDatabase(config, database.url, {
    applicationName: 'carebook-api',
    max: config.dbPoolMax,
    logger,
    development,
    readUrl: config.readDatabaseUrl,
  }).catch(async (error: unknown) => {
    await database.close();
    await companion?.stop();
    throw error;
  });
  // Read-only listings may lag on a replica; bookings and writes always use the primary pool.
  const { pool, readPool } = service;
  const metrics = createDatabaseMetrics(pool);
  try {
    const app = await buildApp({ config, pool, readPool, logger, metrics });
    const server = await listen(app, config.host, config.port);
    const metricsServer =
      config.http.metricsPort === null
        ? null
        : await startMetricsServer({
            host: config.host,
            port: config.http.metricsPort,
            metrics,
            token: config.http.metricsToken,
            health: () => ({ role: 'api' }),
          });
    const sweep = background ? startSweeper({ pool, metrics, logger }) : null;
    const worker = background
      ? new QueueWorker({
          pool,
          listenUrl: service.listenUrl,
          logger,
          metrics,
          kinds: queueKinds(config, metrics),
        })
      : null;
    worker?.start();
    // Listening for signals before saying "ready": a Ctrl-C right after the banner must drain too.
    const stopped = waitForShutdown(logger, async () => {
      await server.close();
      await metricsServer?.close();
      await worker?.stop();
      await sweep?.stop();
      await pool.end();
      await readPool?.end();
      await database.close();
      await companion?.stop();
    });
    await announce(server.url);
    return await stopped;
  } catch (error) {
    await pool.end().catch(() => {});
    await readPool?.end().catch(() => {});
    await database.close();
    await companion?.stop().catch(() => {});
    throw error;
  }
}

/** Demo schedules reaching four weeks ahead, and their slots, however long ago the database was created. */
async function rollDemoSlotsForward(databaseUrl: string, logger: Logger): Promise<void> {
  const pool: Pool = createPool(databaseUrl, { max: 2 });
  try {
    await pool.query('SELECT seed_demo_data(28)');
    const slots = await regenerateAll(pool, { actor: 'carebook-dev' });
    logger.info({ slotsAdded: slots.created }, 'demo data ready');
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
