// The connection pool. Every process has one; request handlers borrow a client per transaction.
import pg from 'pg';
import type { Logger } from 'pino';

// DATE columns stay 'YYYY-MM-DD' strings: a JavaScript Date would shift them by the time zone.
pg.types.setTypeParser(pg.types.builtins.DATE, (value) => value);

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

/** What a unit of work needs of a connection: statements in the caller's transaction. */
export interface Sql {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>;
}

export interface PoolOptions {
  max?: number;
  applicationName?: string;
  logger?: Logger;
  /**
   * Named prepared statements (parsed and planned once per connection). Off behind PgBouncer in
   * transaction mode: a statement prepared on one server connection is missing, or already
   * exists, on the next one the pooler hands out.
   */
  namedStatements?: boolean;
  /** Client-side bound on one query, in ms: the only bound against a black-holed network. */
  queryTimeoutMs?: number;
  /**
   * node-postgres's pipeline mode: a transaction's statements leave without waiting for the one
   * before (withTenant sends BEGIN, the context and the first statement together; a queue batch
   * its settle and the COMMIT). For the worker's loops, where each round trip is on the path of
   * every batch. Only where named statements are on (a direct or session-pooled connection): through
   * a transaction pooler, where pipelining is untested, the pool sends one statement at a time.
   */
  pipeline?: boolean;
}

const namedStatementPools = new WeakSet<pg.Pool>();

export function createPool(connectionString: string, options: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max: options.max ?? 20,
    application_name: options.applicationName ?? 'carebook',
    // A black-holed network would otherwise hang forever (facts.md); these bound the wait.
    connectionTimeoutMillis: 5_000,
    query_timeout: options.queryTimeoutMs ?? 10_000,
    idleTimeoutMillis: 30_000,
    pipeline: (options.pipeline ?? false) && (options.namedStatements ?? true),
  });
  if (options.namedStatements ?? true) namedStatementPools.add(pool);
  // Without this listener a backend killed while its client sits idle crashes the process.
  pool.on('error', (error) => {
    options.logger?.warn({ err: error }, 'idle database connection failed; the pool will replace it');
  });
  return pool;
}

/** Whether statements on this pool's connections may be named (prepared once per connection). */
export function usesNamedStatements(pool: pg.Pool): boolean {
  return namedStatementPools.has(pool);
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
