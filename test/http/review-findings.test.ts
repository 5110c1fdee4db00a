// The low findings of the security review that are fixed in code, each with the review's own
// reproduction (docs/security.md lists every finding and where it is proven): L1 offsets beyond
// ±15:59, L2 NUL in a query, L6 service tokens, L7 practitioners' contact details, L8 the /docs
// CSP, L12 slots in year 0001/9999 and a date of birth of 9999-12-31.
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildTestApp, TEST_JWT_SECRET, type TestApp } from '../helpers/app.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { type ClinicFixture, createClinic } from '../helpers/fixtures.js';

describe('security review findings fixed in code', () => {
  let db: TestDatabase;
  let t: TestApp;
  let clinic: ClinicFixture;
  let staff: Record<string, string>;
  let patient: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await buildTestApp(db);
    clinic = await createClinic(db.pool);
    await sql(db.pool, `UPDATE users SET phone = '+15550100200' WHERE id = $1`, [clinic.practitionerId]);
    staff = await bearer({ role: 'staff', clinic_id: clinic.clinicId });
    patient = await bearer({ role: 'patient', clinic_id: clinic.clinicId, patient_id: clinic.patientIds[0] });
  });
  afterAll(async () => {
    await t.close();
    await db.drop();
  });

  const get = (url: string, headers: Record<string, string>) => t.app.inject({ method: 'GET', url, headers });
  const post = (url: string, headers: Record<string, string>, payload: object) =>
    t.app.inject({ method: 'POST', url, headers, payload });

  it('L1: a time zone offset beyond ±15:59 is 400 validation_error, not 500', async () => {
    const admin = await bearer({ role: 'platform_admin' });
    for (const [url, headers] of [
      ['/api/appointments?from=2026-01-01T00:00:00%2B16:00', staff],
      [`/api/clinics/${clinic.clinicId}/slots?to=1900-01-01T00:00:00%2B23:59`, staff],
      ['/api/appointments?to=2026-01-01T00:00:00-23:59', admin],
    ] as const) {
      const response = await get(url, headers);
      expect(response.statusCode, url).toBe(400);
      expect(response.json(), url).toMatchObject({ code: 'validation_error' });
    }
    const slot = await post(`/api/clinics/${clinic.clinicId}/slots`, staff, {
      practitioner_id: clinic.practitionerId,
      starts_at: new Date(Date.now() + 86_400_000).toISOString().replace('Z', '+23:59'),
      ends_at: new Date(Date.now() + 88_200_000).toISOString().replace('Z', '+23:59'),
    });
    expect(slot.statusCode).toBe(400);
  });

  it('L2: NUL in a query string is 400, not 500', async () => {
    const admin = await bearer({ role: 'platform_admin' });
    for (const value of ['%00', 'a%00b']) {
      const response = await get(`/admin/webhook-events?event_type=${value}`, admin);
      expect(response.statusCode, value).toBe(400);
      expect(response.json()).toMatchObject({ code: 'validation_error' });
    }
  });

  it('L6: no token may claim the service role', async () => {
    const service = await new SignJWT({ role: 'service' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('svc')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    const response = await get('/api/clinics', { authorization: `Bearer ${service}` });
    expect(response.statusCode).toBe(401);
    expect(response.json().detail).toMatch(/role/);
  });

  it("L7: patients see practitioners' names only; staff see their contact details", async () => {
    const url = `/api/clinics/${clinic.clinicId}/practitioners`;
    const [asPatient] = (await get(url, patient)).json().practitioners;
    expect(Object.keys(asPatient).sort()).toEqual(['clinic_id', 'full_name', 'id', 'role']);
    const [asStaff] = (await get(url, staff)).json().practitioners;
    expect(asStaff).toMatchObject({ email: expect.stringContaining('@'), phone: '+15550100200' });
  });

  it('L8: /docs has a CSP that allows only its own scripts and no framing', async () => {
    const index = await t.app.inject({ method: 'GET', url: '/docs' });
    expect(index.statusCode).toBe(200);
    for (const response of [
      index,
      await t.app.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' }),
    ]) {
      const policy = String(response.headers['content-security-policy']);
      expect(policy).toContain("script-src 'self'");
      expect(policy).toContain("frame-ancestors 'none'");
      expect(policy).not.toContain('unsafe-eval');
    }
  });

  it('L12: slots far in the past or future and a date of birth in the future are 400', async () => {
    const slots = `/api/clinics/${clinic.clinicId}/slots`;
    const day = 86_400_000;
    const at = (offsetDays: number) => new Date(Date.now() + offsetDays * day).toISOString();
    for (const [starts, ends] of [
      ['0001-01-01T10:00:00Z', '0001-01-01T10:30:00Z'],
      ['9999-12-31T10:00:00Z', '9999-12-31T10:30:00Z'],
      [at(-2), at(-2 + 1 / 48)],
      [at(731), at(731 + 1 / 48)],
    ]) {
      const response = await post(slots, staff, {
        practitioner_id: clinic.practitionerId,
        starts_at: starts,
        ends_at: ends,
      });
      expect(response.statusCode, starts).toBe(400);
      expect(response.json().detail, starts).toMatch(/starts_at must be between/);
    }
    const fine = await post(slots, staff, {
      practitioner_id: clinic.practitionerId,
      starts_at: at(700),
      ends_at: at(700 + 1 / 48),
    });
    expect(fine.statusCode).toBe(201);

    const patients = `/api/clinics/${clinic.clinicId}/patients`;
    for (const date_of_birth of ['9999-12-31', '1899-12-31', at(2).slice(0, 10)]) {
      const response = await post(patients, staff, { full_name: 'Future Person', date_of_birth });
      expect(response.statusCode, date_of_birth).toBe(400);
      expect(response.json().detail).toMatch(/date_of_birth/);
    }
    expect((await post(patients, staff, { full_name: 'Ada', date_of_birth: '1990-05-01' })).statusCode).toBe(
      201,
    );
  });
});
