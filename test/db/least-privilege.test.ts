// Least privilege (security review M3, L9): serve and worker refuse a superuser login unless told
// otherwise; the service login holds nothing until a unit of work switches role; the carebook_*
// roles cannot become each other; audit.record and every SECURITY DEFINER function guard
// themselves.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { createClinic, createSlot } from '../helpers/fixtures.js';

describe('least privilege', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db?.drop());

  const asLogin = async <T>(fn: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: db.serviceUrl });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };

  it('worker refuses a superuser login, runs with the override (warning), and runs with the service login', async () => {
    const [login] = await sql<{ superuser: boolean }>(
      db.pool,
      'SELECT rolsuper AS superuser FROM pg_roles WHERE rolname = current_user',
    );
    expect(login?.superuser).toBe(true);
    const refused = await runCli(['worker', '--drain'], { DATABASE_URL: db.url });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /is a superuser( and BYPASSRLS)?, so row-level security does not bind it.*CAREBOOK_ALLOW_SUPERUSER=true/,
    );
    const overridden = await runCli(['worker', '--drain'], {
      DATABASE_URL: db.url,
      CAREBOOK_ALLOW_SUPERUSER: 'true',
    });
    expect(overridden.code).toBe(0);
    expect(overridden.stdout).toMatch(/never do this in production/);
    const proper = await runCli(['worker', '--drain'], { DATABASE_URL: db.serviceUrl });
    expect(proper.code, proper.stderr).toBe(0);
    expect(proper.stdout).not.toMatch(/superuser/);
  });

  it('serve refuses a superuser login too', async () => {
    const refused = await runCli(['serve'], {
      DATABASE_URL: db.url,
      CAREBOOK_JWT_SECRET: 'x'.repeat(40),
      PORT: '0',
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/is a superuser/);
  });

  it('a service login that has not switched role can read nothing and call nothing into effect', async () => {
    const clinic = await createClinic(db.pool, { patients: 1 });
    const slot = await createSlot(db.pool, clinic);
    await asLogin(async (client) => {
      await expect(client.query('SELECT count(*) FROM clinics')).rejects.toMatchObject({ code: '42501' });
      await expect(client.query('SELECT count(*) FROM patients')).rejects.toMatchObject({ code: '42501' });
      await expect(
        client.query("SELECT * FROM book_appointment($1, $2, 'nobody', 'k', '{}')", [
          slot,
          clinic.patientIds[0],
        ]),
      ).rejects.toMatchObject({ code: '42501' });
    });
    expect(
      await sql(db.pool, 'SELECT count(*)::int AS n FROM appointments WHERE slot_id = $1', [slot]),
    ).toEqual([{ n: 0 }]);
  });

  it('no carebook_* role is a member of another, and none can log in, bypass RLS or be a superuser', async () => {
    const memberships = await sql(
      db.pool,
      `SELECT r.rolname AS role, m.rolname AS member FROM pg_auth_members a
         JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member
        WHERE r.rolname = ANY ($1) AND m.rolname = ANY ($1)`,
      [['carebook_app', 'carebook_worker', 'carebook_readonly', 'carebook_admin']],
    );
    expect(memberships).toEqual([]);
    const roles = await sql<{
      rolname: string;
      rolcanlogin: boolean;
      rolbypassrls: boolean;
      rolsuper: boolean;
    }>(
      db.pool,
      `SELECT rolname, rolcanlogin, rolbypassrls, rolsuper FROM pg_roles
        WHERE rolname IN ('carebook_app', 'carebook_worker', 'carebook_readonly', 'carebook_admin') ORDER BY 1`,
    );
    expect(roles).toHaveLength(4);
    for (const role of roles)
      expect(role).toMatchObject({ rolcanlogin: false, rolbypassrls: false, rolsuper: false });
    await asLogin(async (client) => {
      await client.query('BEGIN');
      await client.query('SET LOCAL ROLE carebook_app');
      // SET ROLE is checked against the login, which may become each role — but carebook_app itself
      // holds no membership, so nothing granted to carebook_app reaches another role's rights.
      const [membership] = (
        await client.query<{ admin: boolean }>(
          "SELECT pg_has_role('carebook_app', 'carebook_admin', 'MEMBER') AS admin",
        )
      ).rows;
      expect(membership?.admin).toBe(false);
      await client.query('ROLLBACK');
    });
  });

  it("audit.record refuses a clinic other than the caller's; the service and platform admins may write any", async () => {
    const a = await createClinic(db.pool);
    const b = await createClinic(db.pool);
    const record = (role: string, clinic: string | null, target: string) =>
      asLogin(async (client) => {
        await client.query('BEGIN');
        try {
          await client.query(
            `SELECT set_config('role', $1, true), set_config('carebook.clinic_id', coalesce($2, ''), true),
                    set_config('carebook.role', 'patient', true), set_config('carebook.user_id', 'forger', true)`,
            [role, clinic],
          );
          return (
            await client.query<{ id: string }>(
              `SELECT audit.record('webhook.replay', $1, 'payments', NULL, '{"forged":true}', 'test')::text AS id`,
              [target],
            )
          ).rows[0]?.id;
        } finally {
          await client.query('ROLLBACK');
        }
      });
    await expect(record('carebook_app', a.clinicId, b.clinicId)).rejects.toMatchObject({ code: '42501' });
    await expect(record('carebook_app', a.clinicId, null as unknown as string)).rejects.toMatchObject({
      code: '42501',
    });
    await expect(record('carebook_app', a.clinicId, a.clinicId)).resolves.toMatch(/^\d+$/);
    await expect(record('carebook_worker', null, b.clinicId)).resolves.toMatch(/^\d+$/);
    await expect(record('carebook_admin', null, b.clinicId)).resolves.toMatch(/^\d+$/);
  });

  it('every SECURITY DEFINER function pins search_path and is not executable by PUBLIC', async () => {
    const definers = await sql<{ name: string; config: string[] | null; public_execute: boolean }>(
      db.pool,
      `SELECT p.oid::regprocedure::text AS name, p.proconfig AS config,
              has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE p.prosecdef AND n.nspname IN ('public', 'audit')`,
    );
    expect(definers.map((d) => d.name).sort()).toEqual([
      'audit.record(text,uuid,text,uuid,jsonb,text)',
      'audit.tg_appointment_slots__generated()',
      'audit.tg_audit__row_change()',
      // 00022: the staging triggers write the outbox and the queue on behalf of booking roles.
      'tg_appointments__stage_outbox()',
      'tg_payments__stage_outbox()',
    ]);
    for (const definer of definers) {
      expect(
        definer.config?.some((setting) => setting.startsWith('search_path=')),
        definer.name,
      ).toBe(true);
      expect(definer.public_execute, definer.name).toBe(false);
    }
  });
});
