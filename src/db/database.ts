// Where the database comes from: DATABASE_URL when set, otherwise the embedded server.
import pg from 'pg';
import type { Config } from '../config.js';
import { redactDatabaseUrl } from '../config.js';
import { type EmbeddedDatabase, startEmbeddedPostgres } from './embedded.js';
import { checkConnection } from './pool.js';

export const EMBEDDED_DATABASE_NAME = 'carebook';

export interface DatabaseHandle {
  url: string;
  /** Set when this process started the embedded server (and must stop it). */
  embedded: EmbeddedDatabase | null;
  serverVersion: string;
  close(): Promise<void>;
}

export class DatabaseUnavailableError extends Error {
  override name = 'DatabaseUnavailableError';
}

/** Resolves and checks the database; the embedded one is started (and its database created) here. */
export async function openDatabase(
  config: Config,
  log: (line: string) => void = () => {},
): Promise<DatabaseHandle> {
  if (config.databaseUrl) {
    const serverVersion = await reach(config.databaseUrl);
    return { url: config.databaseUrl, embedded: null, serverVersion, close: async () => {} };
  }
  const embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, log });
  try {
    await ensureDatabase(embedded.adminUrl, EMBEDDED_DATABASE_NAME);
    const url = embedded.urlFor(EMBEDDED_DATABASE_NAME);
    const serverVersion = await reach(url);
    return { url, embedded, serverVersion, close: () => embedded.stop() };
  } catch (error) {
    await embedded.stop();
    throw error;
  }
}

async function reach(url: string): Promise<string> {
  try {
    return await checkConnection(url);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new DatabaseUnavailableError(`cannot reach the database at ${redactDatabaseUrl(url)}: ${reason}`, {
      cause: error,
    });
  }
}

/** CREATE DATABASE when missing (the embedded cluster starts with only `postgres`). */
export async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) {
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`).catch((error: { code?: string }) => {
        if (error.code !== '42P04') throw error; // created concurrently
      });
    }
  } finally {
    await client.end();
  }
}
