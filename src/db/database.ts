// Where the database comes from: DATABASE_URL when set, otherwise the embedded server. On the
// embedded server migrations run as its superuser, and everything else logs in as `carebook_login`,
// which is neither superuser nor BYPASSRLS (a superuser would skip row-level security) and is a
// member of the carebook_* roles, as docs/migrations/README.md asks of a production login.
import path from 'node:path';
import pg from 'pg';
import type { Config } from '../config.js';
import { redactDatabaseUrl } from '../config.js';
import { type EmbeddedDatabase, readOrCreateSecret, startEmbeddedPostgres } from './embedded.js';
import { ensureServiceLogin } from './logins.js';
import { checkConnection } from './pool.js';

export const EMBEDDED_DATABASE_NAME = 'carebook';
export const EMBEDDED_LOGIN = 'carebook_login';

export interface DatabaseHandle {
  /** What the service connects as: DATABASE_URL, or the embedded server's `carebook_login`. */
  url: string;
  /** What migrations connect as: DATABASE_URL, or the embedded server's superuser. */
  ownerUrl: string;
  /** Set when this process uses the embedded server. */
  embedded: EmbeddedDatabase | null;
  serverVersion: string;
  /** After migrating: the embedded login joins the carebook_* roles (no-op with DATABASE_URL). */
  prepareServiceLogin(): Promise<void>;
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
    const url = config.databaseUrl;
    return {
      url,
      ownerUrl: url,
      embedded: null,
      serverVersion,
      prepareServiceLogin: async () => {},
      close: async () => {},
    };
  }
  const embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, log });
  try {
    await ensureDatabase(embedded.adminUrl, EMBEDDED_DATABASE_NAME);
    const ownerUrl = embedded.urlFor(EMBEDDED_DATABASE_NAME);
    const { password } = await readOrCreateSecret(path.join(config.dataDir, 'embedded-login.json'));
    const prepareServiceLogin = () => ensureServiceLogin(ownerUrl, EMBEDDED_LOGIN, password);
    await prepareServiceLogin();
    return {
      url: embedded.urlFor(EMBEDDED_DATABASE_NAME, { user: EMBEDDED_LOGIN, password }),
      ownerUrl,
      embedded,
      serverVersion: await reach(ownerUrl),
      prepareServiceLogin,
      close: () => embedded.stop(),
    };
  } catch (error) {
    await embedded.stop();
    throw error;
  }
}

async function reach(url: string): Promise<string> {
  try {
    return await checkConnection(url);
  } catch (error) {
    throw new DatabaseUnavailableError(
      `cannot reach the database at ${redactDatabaseUrl(url)}: ${connectProblem(error, url)}`,
      {
        cause: error,
      },
    );
  }
}

/** What a failed connection means, in words, with the code it came with. */
function connectProblem(error: unknown, url: string): string {
  const { code, message } = error as { code?: string; message?: string };
  const { hostname, port, pathname, username } = new URL(url);
  const where = `${hostname}:${port || 5432}`;
  const database = decodeURIComponent(pathname.slice(1));
  const user = decodeURIComponent(username) || 'the default user';
  switch (code) {
    case '3D000':
      return `database "${database}" does not exist on ${where}; create it (createdb -h ${hostname} ${database}) or fix the name in DATABASE_URL (3D000)`;
    case '28P01':
      return `password authentication failed for ${user}; check the password in DATABASE_URL (28P01)`;
    case '28000':
      return `the server does not let ${user} connect (no such role, or no pg_hba.conf entry for it); check the user in DATABASE_URL (28000)`;
    case 'ECONNREFUSED':
      return `nothing accepts connections on ${where}; is PostgreSQL running there? (ECONNREFUSED)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the host "${hostname}" is unknown; check DATABASE_URL (${code})`;
    default:
      return code ?? message ?? String(error);
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
