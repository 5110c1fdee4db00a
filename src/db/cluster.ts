// A PostgreSQL server on which throwaway databases are made: the server of DATABASE_URL when
// set, else an embedded one. Used by the test suite, the CI dry-run, the baseline and the benchmarks.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startEmbeddedPostgres } from './embedded.js';

export interface Cluster {
  /** A URL of the maintenance database, from which databases are created and dropped. */
  adminUrl: string;
  embedded: boolean;
  urlFor(database: string): string;
  createDatabase(name: string, template?: string): Promise<string>;
  dropDatabase(name: string): Promise<void>;
  close(): Promise<void>;
}

export interface ClusterOptions {
  databaseUrl?: string | null;
  /** Data directory of the embedded server (when there is no databaseUrl). */
  dataDir: string;
  log?: (line: string) => void;
}

export async function openCluster(options: ClusterOptions): Promise<Cluster> {
  if (options.databaseUrl) {
    const base = options.databaseUrl;
    const urlFor = (database: string) => {
      const url = new URL(base);
      url.pathname = `/${encodeURIComponent(database)}`;
      return url.toString();
    };
    return makeCluster(base, urlFor, false, async () => {});
  }
  const embedded = await startEmbeddedPostgres({
    dataDir: options.dataDir,
    ephemeralDurability: true,
    log: options.log,
  });
  return makeCluster(embedded.adminUrl, embedded.urlFor, true, () => embedded.stop());
}

function makeCluster(
  adminUrl: string,
  urlFor: (database: string) => string,
  embedded: boolean,
  stop: () => Promise<void>,
): Cluster {
  const admin = async <T>(fn: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };
  return {
    adminUrl,
    embedded,
    urlFor,
    createDatabase: (name, template) =>
      admin(async (client) => {
        const from = template ? ` TEMPLATE ${pg.escapeIdentifier(template)}` : '';
        await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}${from}`);
        return urlFor(name);
      }),
    dropDatabase: (name) =>
      admin(async (client) => {
        await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
      }),
    close: stop,
  };
}

/** A database name unlikely to collide with anyone else's on a shared server. */
export function uniqueDatabaseName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}
