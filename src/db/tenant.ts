// Tenant-scoped transactions: every unit of work runs as one of the carebook_* roles with the
// caller's clinic, user, patient and role in transaction-local settings, which the RLS policies
// of 00008 read. Values are always bound parameters; the setting names are constants.
import { createHash } from 'node:crypto';
import type { QueryResultRow } from 'pg';
import { isDatabaseUnavailable } from './errors.js';
import { type Pool, type PoolClient, type Sql, usesNamedStatements } from './pool.js';

export const DB_ROLES = ['carebook_app', 'carebook_worker', 'carebook_readonly', 'carebook_admin'] as const;
export type DbRole = (typeof DB_ROLES)[number];

export const APP_ROLES = ['patient', 'staff', 'clinic_admin', 'platform_admin', 'service'] as const;
export type AppRole = (typeof APP_ROLES)[number];

/**
 * The roles a bearer token may carry. `service` is Carebook's own background work (ingestion, the
 * worker, sweeps) and runs as carebook_worker across every clinic: no token can claim it.
 */
export const TOKEN_ROLES = ['patient', 'staff', 'clinic_admin', 'platform_admin'] as const;
export type TokenRole = (typeof TOKEN_ROLES)[number];

export interface TenantContext {
  dbRole: DbRole;
  appRole?: AppRole | null;
  clinicId?: string | null;
  /** The JWT subject (any string), or a CLI actor's name. */
  userId?: string | null;
  patientId?: string | null;
  /** Explicit actor for the audit trail (CLI commands); defaults to userId in audit.current_actor(). */
  actor?: string | null;
}

/** A platform admin's work (replays, the dashboard), audited with their token subject as actor. */
export function adminContext(actor: string): TenantContext {
  return { dbRole: 'carebook_admin', appRole: 'platform_admin', userId: actor, actor };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

function checkContext(context: TenantContext): void {
  if (!DB_ROLES.includes(context.dbRole)) throw new TypeError(`unknown database role ${context.dbRole}`);
  if (context.appRole != null && !APP_ROLES.includes(context.appRole)) {
    throw new TypeError(`unknown application role ${context.appRole}`);
  }
  for (const [name, value] of [
    ['clinicId', context.clinicId],
    ['patientId', context.patientId],
  ] as const) {
    if (value != null && !isUuid(value)) throw new TypeError(`${name} must be a uuid`);
  }
  for (const [name, value] of [
    ['userId', context.userId],
    ['actor', context.actor],
  ] as const) {
    if (value != null && (value.length > 200 || value.includes('\0'))) {
      throw new TypeError(`${name} must be at most 200 characters without NUL`);
    }
  }
}

const SETTINGS = [
  'role',
  'carebook.role',
  'carebook.clinic_id',
  'carebook.patient_id',
  'carebook.actor',
] as const;

export interface ContextSelect {
  /** A FROM item `(SELECT set_config(…), …) AS ctx` whose last column ctx.user_id is the user id. */
  sql: string;
  values: string[];
}

/**
 * The context as a FROM item of one parameterised statement. A function called LATERAL with
 * ctx.user_id as an argument runs after the settings are made (it depends on that column), in
 * the statement's own implicit transaction: role switch, settings and work in one round trip,
 * with every value bound as a parameter. `firstParameter` is the number of the first $n it uses.
 */
export function contextSelect(
  context: TenantContext,
  firstParameter = 1,
  extra: Readonly<Record<string, string>> = {},
): ContextSelect {
  checkContext(context);
  const names = [...SETTINGS, ...Object.keys(extra), 'carebook.user_id'];
  const values = [
    context.dbRole,
    context.appRole ?? '',
    context.clinicId ?? '',
    context.patientId ?? '',
    context.actor ?? '',
    ...Object.values(extra),
    context.userId ?? '',
  ];
  const columns = names.map((name, index) => {
    const alias = name === 'carebook.user_id' ? ' AS user_id' : '';
    return `set_config('${name}', $${firstParameter + index}, true)${alias}`;
  });
  // OFFSET 0 keeps the planner from flattening the subquery into the outer query, where unused
  // set_config columns could be dropped; volatile outputs of a kept subquery are always evaluated.
  return { sql: `(SELECT ${columns.join(', ')} OFFSET 0) AS ctx`, values };
}

/**
 * One statement that enters the context and calls a set-returning or scalar function in it:
 * `call` is a FROM item such as `book_appointment($1, $2, ctx.user_id, $3, $4) AS r`, numbering its
 * own arguments from $1; the context's parameters follow them. The call sits in a LATERAL subquery
 * that refers to ctx, so it can only run after the settings are made — in the statement's implicit
 * transaction, in one round trip.
 */
export function callInContext(
  context: TenantContext,
  call: string,
  args: readonly unknown[],
  extra: Readonly<Record<string, string>> = {},
): { text: string; values: unknown[] } {
  const ctx = contextSelect(context, args.length + 1, extra);
  return {
    text: `SELECT r.* FROM ${ctx.sql} CROSS JOIN LATERAL (SELECT * FROM ${call} WHERE ctx.user_id IS NOT NULL OFFSET 0) AS r`,
    values: [...args, ...ctx.values],
  };
}

const statementNames = new Map<string, string>();

/** A stable name per statement text, for pg's per-connection prepared statements. */
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (!name) {
    name = `cb_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    statementNames.set(text, name);
  }
  return name;
}

/**
 * A client's statements, named (parsed and planned once per connection) when the pool allows it:
 * for the hot statements of a long-lived loop, such as the queue's claims and settles.
 */
export function preparedStatements(pool: Pool, client: PoolClient): Sql {
  const named = usesNamedStatements(pool);
  return {
    query: (text, values = []) =>
      client.query({ name: named ? statementName(text) : undefined, text, values }),
  };
}

/**
 * A pooled client for one unit of work. pg-pool drops its own error listener while a client is
 * checked out, so a connection that dies between two statements would emit an unhandled 'error'
 * and end the process; this listener catches it and marks the connection for discarding.
 */
async function borrow(pool: Pool): Promise<{ client: PoolClient; release(broken: boolean): void }> {
  const client = await pool.connect();
  let failed = false;
  const onError = () => {
    failed = true;
  };
  client.on('error', onError);
  return {
    client,
    release: (broken) => {
      client.off('error', onError);
      client.release(failed || broken);
    },
  };
}

/**
 * Runs callInContext's statement on a pooled connection and returns its rows. Not pool.query():
 * pg-pool discards the connection after ANY error, and our domain errors (a 409 for a taken slot)
 * are routine — each would cost a reconnect. Only a broken connection is discarded here.
 */
export async function queryInContext<R extends QueryResultRow>(
  pool: Pool,
  context: TenantContext,
  call: string,
  args: readonly unknown[],
  extra: Readonly<Record<string, string>> = {},
): Promise<R[]> {
  const statement = callInContext(context, call, args, extra);
  const { client, release } = await borrow(pool);
  let broken = false;
  try {
    // Named, so each connection parses and plans this statement once, not on every call — unless
    // a transaction pooler may hand the next call another server connection (createPool).
    const name = usesNamedStatements(pool) ? statementName(statement.text) : undefined;
    return (await client.query<R>({ name, text: statement.text, values: statement.values })).rows;
  } catch (error) {
    // Domain errors (a 409 for a taken slot) are routine: keep the connection for those.
    broken = isDatabaseUnavailable(error);
    throw error;
  } finally {
    release(broken);
  }
}

/** The COMMIT of a transaction in which a statement had failed: nothing of it was kept. */
export class TransactionRolledBackError extends Error {
  override name = 'TransactionRolledBackError';
  constructor() {
    super('the transaction was rolled back at COMMIT: one of its statements had failed');
  }
}

/** The statement a transaction sent ahead of its COMMIT (sendAheadOfCommit), by connection. */
const aheadOfCommit = new WeakMap<PoolClient, Promise<unknown>>();

/**
 * For withTenant's fn, with the transaction's last statement: on a pipelined connection it is not
 * waited for, so that the COMMIT leaves right behind it (one round trip less), and if it fails
 * withTenant throws its error (the COMMIT has then rolled everything back). On any other
 * connection it is awaited here. Its answer is read from `statement` once withTenant returns.
 */
export async function sendAheadOfCommit(client: PoolClient, statement: Promise<unknown>): Promise<void> {
  if (!client.pipeline) {
    await statement;
    return;
  }
  statement.catch(() => {}); // withTenant reports it
  aheadOfCommit.set(client, statement);
}

/**
 * Runs fn in one transaction as the context's role, with its settings and `extra` ones
 * (set_config(…, true) lasts until the transaction ends). Commits when fn resolves, rolls back
 * when it throws (and rethrows). A connection whose rollback fails is discarded. A COMMIT that the
 * server answers as a rollback (a statement had failed) throws: the error of the statement sent
 * ahead of it (sendAheadOfCommit), or TransactionRolledBackError.
 */
export async function withTenant<T>(
  pool: Pool,
  context: TenantContext,
  fn: (client: PoolClient) => Promise<T>,
  extra: Readonly<Record<string, string>> = {},
): Promise<T> {
  const enter = contextSelect(context, 1, extra);
  const { client, release } = await borrow(pool);
  let broken = false;
  try {
    const text = `SELECT * FROM ${enter.sql}`;
    // Named where the pool allows it (as queryInContext): parsed and planned once per connection.
    const name = usesNamedStatements(pool) ? statementName(text) : undefined;
    let result: T;
    if (client.pipeline) {
      // BEGIN, the context and fn's first statement leave together: one round trip, not three.
      const entered = Promise.all([
        client.query('BEGIN'),
        client.query({ name, text, values: enter.values }),
      ]);
      const [begun, done] = await Promise.allSettled([entered, fn(client)]);
      // A failed context is the cause; fn's statements then failed only because of it.
      if (begun.status === 'rejected') throw begun.reason;
      if (done.status === 'rejected') throw done.reason;
      result = done.value;
    } else {
      await client.query('BEGIN');
      await client.query({ name, text, values: enter.values });
      result = await fn(client);
    }
    // A statement that had failed (one sent ahead of the COMMIT, or one whose error fn swallowed)
    // turns the COMMIT into a rollback, which the server answers without an error.
    const ahead = aheadOfCommit.get(client);
    if ((await client.query('COMMIT')).command !== 'COMMIT') {
      await ahead; // its own error is the cause
      throw new TransactionRolledBackError();
    }
    return result;
  } catch (error) {
    broken = isDatabaseUnavailable(error);
    await client.query('ROLLBACK').catch(() => {
      broken = true;
    });
    throw error;
  } finally {
    aheadOfCommit.delete(client);
    release(broken);
  }
}
