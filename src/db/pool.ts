// The connection pool. Every process has one; request handlers borrow a client per transaction.
import pg from 'pg';
import type { Logger } from 'pino';

// DATE columns stay 'YYYY-MM-DD' strings: a JavaScript Date would shift them by the time zone.
pg.types.setTypeParser(pg.types.builtins.DATE, (value) => value);

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export interface PoolOptions {
  max?: number;
  applicationName?: string;
  logger?: Logger;
}

export function createPool(connectionString: string, options: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max: options.max ?? 20,
    application_name: options.applicationName ?? 'carebook',
    // A black-holed network would otherwise hang forever (facts.md); these bound the wait.
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
  });
  // Without this listener a backend killed while its client sits idle crashes the process.
  pool.on('error', (error) => {
    options.logger?.warn({ err: error }, 'idle database connection failed; the pool will replace it');
  });
  return pool;
}

/** Opens one connection to prove the database answers; returns its server version. */
export async function checkConnection(connectionString: string): Promise<string> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 10_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    const result = await client.query<{ server_version: string }>('SHOW server_version');
    return result.rows[0]?.server_version ?? 'unknown';
  } finally {
    await client.end().catch(() => {});
  }
}
