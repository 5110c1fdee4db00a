// Tenant-scoped transactions: every unit of work runs as one of the carebook_* roles with the
// caller's clinic, user, patient and role in transaction-local settings, which the RLS policies
// of 00008 read. The role switch and the settings travel in the same round trip as BEGIN.
import pg from 'pg';
import type { Pool, PoolClient } from './pool.js';

export const DB_ROLES = ['carebook_app', 'carebook_worker', 'carebook_readonly', 'carebook_admin'] as const;
export type DbRole = (typeof DB_ROLES)[number];

export const APP_ROLES = ['patient', 'staff', 'clinic_admin', 'platform_admin', 'service'] as const;
export type AppRole = (typeof APP_ROLES)[number];

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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/**
 * The statement that enters a context: set_config(…, true) lasts until the transaction ends.
 * Values are checked here (role names from fixed lists, uuids by pattern, free text bounded) and
 * then quoted with pg.escapeLiteral, because a parameterised statement cannot share a round trip
 * with BEGIN: the simple-query protocol that can, takes no parameters.
 */
export function contextStatement(context: TenantContext): string {
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
  const settings: Array<[string, string]> = [
    ['role', context.dbRole],
    ['carebook.role', context.appRole ?? ''],
    ['carebook.clinic_id', context.clinicId ?? ''],
    ['carebook.user_id', context.userId ?? ''],
    ['carebook.patient_id', context.patientId ?? ''],
    ['carebook.actor', context.actor ?? ''],
  ];
  return `SELECT ${settings
    .map(([name, value]) => `set_config(${pg.escapeLiteral(name)}, ${pg.escapeLiteral(value)}, true)`)
    .join(', ')}`;
}

/**
 * Runs fn in one transaction as the context's role, with its settings. Commits when fn resolves,
 * rolls back when it throws (and rethrows). A connection whose rollback fails is discarded.
 */
export async function withTenant<T>(
  pool: Pool,
  context: TenantContext,
  fn: (client: PoolClient) => Promise<T>,
): Promise<T> {
  const enter = `BEGIN; ${contextStatement(context)}`;
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query(enter);
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {
      broken = true;
    });
    throw error;
  } finally {
    client.release(broken);
  }
}
