// Garbage in: every malformed request gets a 4xx problem+json with a clear message, never a 500,
// and writes nothing. Also the authentication failures.
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildTestApp, TEST_JWT_SECRET, type TestApp, token } from '../helpers/app.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { type ClinicFixture, createClinic, createSlot } from '../helpers/fixtures.js';

describe('malformed requests', () => {
  let db: TestDatabase;
  let t: TestApp;
  let clinic: ClinicFixture;
  let auth: Record<string, string>;
  let slot: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await buildTestApp(db);
    clinic = await createClinic(db.pool);
    slot = await createSlot(db.pool, clinic);
    auth = await bearer({ role: 'patient', clinic_id: clinic.clinicId, patient_id: clinic.patientIds[0] });
  });
  afterAll(async () => {
    await t.close();
    await db.drop();
  });

  const rowCounts = async () =>
    (
      await sql(
        db.pool,
        'SELECT (SELECT count(*) FROM appointments) AS a, (SELECT count(*) FROM booking_requests) AS r, (SELECT count(*) FROM audit.audit_log) AS l',
      )
    )[0];

  const post = (payload: string | object, headers: Record<string, string> = {}) =>
    t.app.inject({
      method: 'POST',
      url: '/api/appointments',
      headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': randomUUID(), ...headers },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });

  const cases: Array<[string, () => string | object, number, string, RegExp?]> = [
    ['malformed JSON', () => '{"slot_id": ', 400, 'malformed_json'],
    ['an empty body', () => '', 400, 'malformed_json'],
    ['a number where a uuid belongs', () => ({ slot_id: 10 }), 400, 'validation_error', /slot_id/],
    ['a boolean where a uuid belongs', () => ({ slot_id: true }), 400, 'validation_error'],
    ['an array where a uuid belongs', () => ({ slot_id: [slot] }), 400, 'validation_error'],
    ['a non-uuid id', () => ({ slot_id: 'slot-1' }), 400, 'validation_error', /uuid/],
    [
      'an unknown field',
      () => ({ slot_id: slot, price_cents: 0 }),
      400,
      'validation_error',
      /unknown field "price_cents"/,
    ],
    ['a JSON array body', () => [slot], 400, 'validation_error'],
    ['notes too long', () => ({ slot_id: slot, notes: 'x'.repeat(2001) }), 400, 'validation_error'],
    ['a NUL character', () => `{"slot_id":"${slot}","notes":"a\\u0000b"}`, 400, 'validation_error', /NUL/],
    [
      'nesting 30 000 deep',
      () => `${'['.repeat(30_000)}${']'.repeat(30_000)}`,
      400,
      'malformed_json',
      /At most 32 levels/,
    ],
    ['prototype poisoning', () => `{"slot_id":"${slot}","__proto__":{"admin":true}}`, 400, 'malformed_json'],
  ];

  for (const [name, payload, status, code, detail] of cases) {
    it(`refuses ${name} with ${status} ${code} and writes nothing`, async () => {
      const before = await rowCounts();
      const response = await post(payload());
      expect(response.statusCode).toBe(status);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(response.json()).toMatchObject({ status, code });
      if (detail) expect(response.json().detail).toMatch(detail);
      expect(await rowCounts()).toEqual(before);
    });
  }

  it('refuses a body over 1 MiB with 413', async () => {
    const response = await post({ slot_id: slot, notes: 'x'.repeat(1024 * 1024 + 10) });
    expect(response.statusCode).toBe(413);
    expect(response.json()).toMatchObject({ code: 'payload_too_large' });
  });

  it('refuses another media type with 415', async () => {
    const response = await post(`slot_id=${slot}`, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(response.statusCode).toBe(415);
    expect(response.json()).toMatchObject({ code: 'unsupported_media_type' });
  });

  it('refuses non-uuid path ids and query values with 400', async () => {
    const path = await t.app.inject({ method: 'GET', url: '/api/appointments/not-a-uuid', headers: auth });
    expect(path.statusCode).toBe(400);
    expect(path.json()).toMatchObject({ code: 'validation_error' });
    const query = await t.app.inject({ method: 'GET', url: '/api/appointments?limit=9999', headers: auth });
    expect(query.statusCode).toBe(400);
    const unknown = await t.app.inject({ method: 'GET', url: '/api/appointments?sort=evil', headers: auth });
    expect(unknown.statusCode).toBe(400);
  });

  describe('authentication', () => {
    const attempt = (headers: Record<string, string>) =>
      t.app.inject({ method: 'GET', url: '/api/appointments', headers });

    it('401 without a token, with a malformed one, a wrong signature or an expired one', async () => {
      const good = await token({
        role: 'patient',
        clinic_id: clinic.clinicId,
        patient_id: clinic.patientIds[0],
      });
      const forged = `${good.slice(0, -4)}AAAA`;
      const expired = await token(
        { role: 'patient', clinic_id: clinic.clinicId, patient_id: clinic.patientIds[0] },
        '-1m',
      );
      for (const [headers, detail] of [
        [{}, /Bearer/],
        [{ authorization: 'Bearer not.a.jwt' }, /malformed/],
        [{ authorization: `Bearer ${forged}` }, /signature/],
        [{ authorization: `Bearer ${expired}` }, /expired/],
        [{ authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }, /Bearer/],
      ] as const) {
        const response = await attempt(headers);
        expect(response.statusCode).toBe(401);
        expect(response.json()).toMatchObject({ code: 'unauthorized' });
        expect(response.json().detail).toMatch(detail);
      }
    });

    it('401 for tokens whose claims do not fit: unknown role, patient without patient_id, alg none', async () => {
      const key = new TextEncoder().encode(TEST_JWT_SECRET);
      const sign = (claims: Record<string, unknown>) =>
        new SignJWT(claims)
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('x')
          .setExpirationTime('1h')
          .sign(key);
      const unknownRole = await sign({ role: 'superuser', clinic_id: clinic.clinicId });
      const noPatient = await sign({ role: 'patient', clinic_id: clinic.clinicId });
      const badClinic = await sign({ role: 'staff', clinic_id: "1' OR '1'='1" });
      const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'x', role: 'platform_admin' })).toString('base64url')}.`;
      for (const jwt of [unknownRole, noPatient, badClinic, none]) {
        expect((await attempt({ authorization: `Bearer ${jwt}` })).statusCode).toBe(401);
      }
    });

    it('403 when a token of one clinic acts on another clinic', async () => {
      const other = await createClinic(db.pool);
      const staff = await bearer({ role: 'staff', clinic_id: clinic.clinicId });
      const response = await t.app.inject({
        method: 'GET',
        url: `/api/clinics/${other.clinicId}/slots`,
        headers: staff,
      });
      expect(response.statusCode).toBe(403);
      expect(response.json()).toMatchObject({ code: 'forbidden' });
      const write = await t.app.inject({
        method: 'POST',
        url: `/api/clinics/${other.clinicId}/patients`,
        headers: staff,
        payload: { full_name: 'Intruder' },
      });
      expect(write.statusCode).toBe(403);
      expect(
        await sql(db.pool, `SELECT count(*)::int AS n FROM patients WHERE full_name = 'Intruder'`),
      ).toEqual([{ n: 0 }]);
    });
  });
});
