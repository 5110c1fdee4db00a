// What `serve`, `worker` and `dev` do before taking traffic: check the login (privileges.ts), find
// out how DATABASE_URL is pooled (pooling.ts), and make the pool and the LISTEN URL that fit.
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { createPool, type Pool } from './pool.js';
import { resolvePooling } from './pooling.js';
import { checkServiceLogin } from './privileges.js';

export interface ServiceDatabase {
  pool: Pool;
  /** CAREBOOK_READ_DATABASE_URL's pool (a replica) for read-only listings, when one is set. */
  readPool?: Pool;
  pooling: 'session' | 'transaction';
  /** Where the worker LISTENs; null: it polls (transaction pooling and no direct URL). */
  listenUrl: string | null;
}

export interface ServiceDatabaseOptions {
  applicationName: string;
  max: number;
  logger: Logger;
  /** `carebook dev`: a superuser login is a warning, not a refusal (a developer's own database). */
  development?: boolean;
  /** A replica for read-only listings; its own pooling is detected like the primary's. */
  readUrl?: string | null;
  /** The primary's pool pipelines transactions (createPool's `pipeline`; the worker's). */
  pipeline?: boolean;
}

export async function connectServiceDatabase(
  config: Config,
  url: string,
  options: ServiceDatabaseOptions,
): Promise<ServiceDatabase> {
  await checkServiceLogin(url, {
    allowSuperuser: config.database.allowSuperuser || options.development === true,
    logger: options.logger,
  });
  const pooling = await resolvePooling(config.database.pooling, url);
  const listenUrl = config.database.listenUrl ?? (pooling === 'transaction' ? null : url);
  options.logger.info(
    { pooling, configured: config.database.pooling, listen: listenUrl !== null },
    pooling === 'transaction'
      ? 'database behind transaction pooling: unnamed statements only'
      : 'database connection: session pooling or direct',
  );
  if (pooling === 'transaction' && listenUrl === null) {
    options.logger.warn(
      'no CAREBOOK_LISTEN_DATABASE_URL: the worker polls for new events instead of listening (a transaction pooler cannot hold a LISTEN)',
    );
  }
  const pool = createPool(url, {
    max: options.max,
    logger: options.logger,
    applicationName: options.applicationName,
    namedStatements: pooling === 'session',
    pipeline: options.pipeline ?? false,
  });
  if (!options.readUrl) return { pool, pooling, listenUrl };
  const readPool = createPool(options.readUrl, {
    max: options.max,
    logger: options.logger,
    applicationName: `${options.applicationName}-read`,
    namedStatements: (await resolvePooling(config.database.pooling, options.readUrl)) === 'session',
  });
  return { pool, readPool, pooling, listenUrl };
}
