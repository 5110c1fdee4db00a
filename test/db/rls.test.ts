// Row-level security keeps clinics apart, through the real roles and settings the service uses.
// docs/migrations/rls_probes.sql is the CI probe script; it is run here too, and shown to fail
// when a policy or a grant is weakened.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TenantContext, withTenant } from '../../src/db/tenant.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { type ClinicFixture, createClinic, createSlot } from '../helpers/fixtures.js';

const probes = readFile(
  path.resolve(import.meta.dirname, '..', '..', 'docs/migrations/rls_probes.sql'),
  'utf8',
);

describe('row-level security', () => {
  let db: TestDatabase;
  let a: ClinicFixture;
  let b: ClinicFixture;
  let slotB: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    a = await createClinic(db.pool);
    b = await createClinic(db.pool);
    await createSlot(db.pool, a);
    slotB = await createSlot(db.pool, b);
  });
  afterAll(() => db.drop());

  const staffOf = (clinic: ClinicFixture): TenantContext => ({
    dbRole: 'carebook_app',
    appRole: 'staff',
    clinicId: clinic.clinicId,
    userId: 'staff-1',
  });

  it('passes the CI probe script', async () => {
    await expect(db.pool.query(await probes)).resolves.toBeDefined();
  });

  it('the probe script fails when carebook_readonly is given a write grant', async () => {
    const weakened = await createTestDatabase();
    try {
      await weakened.pool.query('GRANT UPDATE ON patients TO carebook_readonly');
      await expect(weakened.pool.query(await probes)).rejects.toThrow(
        /probe 5: carebook_readonly could update patients/,
      );
    } finally {
      await weakened.drop();
    }
  });

  it('the probe script fails when a policy lets a clinic see another', async () => {
    const weakened = await createTestDatabase();
    try {
      await weakened.pool.query('CREATE POLICY too_wide ON patients FOR SELECT TO carebook_app USING (true)');
      await expect(weakened.pool.query(await probes)).rejects.toThrow(
        /probe 1: clinic A staff see 1 row\(s\) of clinic B in patients/,
      );
    } finally {
      await weakened.drop();
    }
  });

  it('staff of clinic A see only clinic A through withTenant', async () => {
    const seen = await withTenant(db.pool, staffOf(a), async (client) => {
      const result = await client.query<{ clinic_id: string }>(
        'SELECT DISTINCT clinic_id FROM appointment_slots',
      );
      return result.rows.map((row) => row.clinic_id);
    });
    expect(seen).toEqual([a.clinicId]);
  });

  it('cannot update or insert clinic B rows', async () => {
    const updated = await withTenant(db.pool, staffOf(a), async (client) => {
      const result = await client.query(
        `UPDATE appointment_slots SET status = 'withdrawn', is_available = false WHERE id = $1`,
        [slotB],
      );
      return result.rowCount;
    });
    expect(updated).toBe(0);
    await expect(
      withTenant(db.pool, staffOf(a), (client) =>
        client.query('INSERT INTO patients (clinic_id, full_name) VALUES ($1, $2)', [b.clinicId, 'Intruder']),
      ),
    ).rejects.toMatchObject({ code: '42501' });
    const [row] = (await db.pool.query('SELECT status FROM appointment_slots WHERE id = $1', [slotB])).rows;
    expect(row?.status).toBe('open');
  });

  it('a transaction without settings sees nothing, and the settings do not outlive it', async () => {
    const none = await withTenant(db.pool, { dbRole: 'carebook_app' }, async (client) => {
      return (await client.query('SELECT count(*)::int AS n FROM patients')).rows[0]?.n;
    });
    expect(none).toBe(0);
    // The same pooled connections are reused: after COMMIT they are back to the login role.
    const client = await db.pool.connect();
    try {
      const row = (await client.query(`SELECT current_user AS who, app_clinic_id() AS clinic`)).rows[0];
      expect(row).toEqual({ who: expect.not.stringMatching(/^carebook_/), clinic: null });
    } finally {
      client.release();
    }
  });

  it('a patient sees only their own patient row', async () => {
    const ids = await withTenant(
      db.pool,
      {
        dbRole: 'carebook_app',
        appRole: 'patient',
        clinicId: a.clinicId,
        patientId: a.patientIds[0],
        userId: 'p-1',
      },
      async (client) =>
        (await client.query<{ id: string }>('SELECT id FROM patients')).rows.map((row) => row.id),
    );
    expect(ids).toEqual([a.patientIds[0]]);
  });

  it('rolls back everything when the work throws', async () => {
    await expect(
      withTenant(db.pool, { ...staffOf(a), appRole: 'clinic_admin' }, async (client) => {
        await client.query('INSERT INTO patients (clinic_id, full_name) VALUES ($1, $2)', [
          a.clinicId,
          'Rolled back',
        ]);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const rows = (await db.pool.query(`SELECT 1 FROM patients WHERE full_name = 'Rolled back'`)).rows;
    expect(rows).toEqual([]);
  });

  it('refuses malformed context values before they reach SQL', async () => {
    await expect(
      withTenant(db.pool, { dbRole: 'carebook_app', clinicId: "x'; DROP TABLE clinics; --" }, async () => 1),
    ).rejects.toThrow(/clinicId must be a uuid/);
    await expect(withTenant(db.pool, { dbRole: 'postgres' as never }, async () => 1)).rejects.toThrow(
      /unknown database role/,
    );
  });
});
