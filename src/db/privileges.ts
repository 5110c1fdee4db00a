// Least privilege at start-up. Row-level security does not apply to a superuser or a BYPASSRLS
// role, and a superuser login can SET ROLE to anything: `serve` and `worker` refuse such a login
// unless CAREBOOK_ALLOW_SUPERUSER=true (then they warn on every start). The login must also be a
// member of the carebook_* roles its transactions switch to, or every request would fail later.
import pg from 'pg';
import type { Logger } from 'pino';
import { DB_ROLES } from './tenant.js';

export class LoginPrivilegeError extends Error {
  override name = 'LoginPrivilegeError';
}

export interface LoginFacts {
  login: string;
  superuser: boolean;
  bypassRls: boolean;
  missingRoles: string[];
}

export async function readLoginFacts(url: string): Promise<LoginFacts> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => {});
  await client.connect();
  try {
    const result = await client.query<{
      login: string;
      superuser: boolean;
      bypass_rls: boolean;
      missing: string[];
    }>(
      `SELECT r.rolname AS login, r.rolsuper AS superuser, r.rolbypassrls AS bypass_rls,
              ARRAY(SELECT g FROM unnest($1::text[]) g
                     WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = g)
                        OR NOT pg_has_role(session_user, g, 'MEMBER')) AS missing
         FROM pg_roles r WHERE r.rolname = session_user`,
      [DB_ROLES],
    );
    const row = result.rows[0];
    if (!row) throw new LoginPrivilegeError('could not read the database login');
    return {
      login: row.login,
      superuser: row.superuser,
      bypassRls: row.bypass_rls,
      missingRoles: row.missing,
    };
  } finally {
    await client.end().catch(() => {});
  }
}

/** Throws LoginPrivilegeError (one readable line), or warns when the override is set. */
export async function checkServiceLogin(
  url: string,
  options: { allowSuperuser: boolean; logger: Logger },
): Promise<LoginFacts> {
  const facts = await readLoginFacts(url);
  if (facts.missingRoles.length > 0 && !facts.superuser) {
    throw new LoginPrivilegeError(
      `the database login "${facts.login}" is not a member of ${facts.missingRoles.join(', ')}; run \`carebook migrate up\` and GRANT those roles to it (docs/migrations/README.md, "Roles in production")`,
    );
  }
  const power = [facts.superuser && 'a superuser', facts.bypassRls && 'BYPASSRLS']
    .filter(Boolean)
    .join(' and ');
  if (!power) return facts;
  const message = `the database login "${facts.login}" is ${power}, so row-level security does not bind it`;
  if (!options.allowSuperuser) {
    throw new LoginPrivilegeError(
      `${message}; log in as a non-superuser member of the carebook_* roles (docs/migrations/README.md, "Roles in production"), or set CAREBOOK_ALLOW_SUPERUSER=true to run anyway`,
    );
  }
  options.logger.warn(
    { login: facts.login, superuser: facts.superuser, bypassRls: facts.bypassRls },
    `${message}: running anyway because CAREBOOK_ALLOW_SUPERUSER=true — never do this in production`,
  );
  return facts;
}
