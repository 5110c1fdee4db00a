// A least-privilege login for the service: LOGIN, not superuser, no BYPASSRLS, member of the
// carebook_* group roles (which exist once migration 00002 has run) but NOINHERIT: it holds no
// privilege of its own, so a connection that has not switched to a carebook_* role (SET LOCAL
// ROLE, as every unit of work does) can read nothing — not even through carebook_admin's policies. Used wherever Carebook sets
// up its own database (the acceptance run, benchmarks, the PgBouncer suite); production creates
// its login once, as docs/migrations/README.md ("Roles in production") shows.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { DB_ROLES } from './tenant.js';

export interface ServiceLogin {
  name: string;
  password: string;
  /** `databaseUrl` with this login's user name and password. */
  url: string;
}

/**
 * Creates the login `name` (or resets it: attributes and password) and grants it every
 * carebook_* role that exists yet (migration 00002 creates them; call again after migrating).
 */
export async function ensureServiceLogin(ownerUrl: string, name: string, password: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new TypeError(`not a plain role name: ${name}`);
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    const role = pg.escapeIdentifier(name);
    await client.query(`DO $$ BEGIN
      CREATE ROLE ${role} LOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; -- made by another process
    END $$`);
    await client.query(
      `ALTER ROLE ${role} LOGIN NOINHERIT NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD ${pg.escapeLiteral(password)}`,
    );
    const existing = await client.query<{ rolname: string }>(
      'SELECT rolname FROM pg_roles WHERE rolname = ANY ($1)',
      [DB_ROLES],
    );
    if (existing.rows.length > 0) {
      await client.query(
        `GRANT ${existing.rows.map((r) => pg.escapeIdentifier(r.rolname)).join(', ')} TO ${role}`,
      );
    }
  } finally {
    await client.end();
  }
}

/** A login with a fresh random password, for databases Carebook sets up itself. */
export async function createServiceLogin(ownerUrl: string, name: string): Promise<ServiceLogin> {
  const password = randomBytes(24).toString('base64url');
  await ensureServiceLogin(ownerUrl, name, password);
  const url = new URL(ownerUrl);
  url.username = name;
  url.password = password;
  return { name, password, url: url.toString() };
}

/** Drops a login made by createServiceLogin (after the databases it used are gone). */
export async function dropServiceLogin(ownerUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    await client.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
}
