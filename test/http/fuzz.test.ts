// An OpenAPI-driven fuzz of every operation in the served /openapi.json: RUNS generated requests
// each — from the declared schemas, and mutations of them (wrong values, missing and unknown
// fields, bodies that are not JSON, another media type) — through app.inject on a test database,
// with real tokens of every role. Each answer must be below 500, of a declared status and content
// type, with a body that matches the declared schema; a request the document calls invalid must
// get a 4xx. fast-check prints the seed and the shrunk request of a failure.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp, token } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { createClinic, createSlot } from '../helpers/fixtures.js';
import {
  conformanceProblems,
  DocumentValidators,
  type OpenApiDocument,
  operationsOf,
} from '../helpers/openapi-document.js';
import { OpenApiFuzzer } from '../helpers/openapi-fuzz.js';
import { WEBHOOK_ENV } from '../helpers/webhooks.js';

const RUNS = 300;
const VERIFY_TOKEN = 'fuzz-verify-token';

// The document is read from an app built the same way before the database exists, so that the
// operations can be listed when vitest collects the tests.
const { servedDocument } = await import('../../scripts/lib/openapi.js');
const document = JSON.parse(await servedDocument()) as OpenApiDocument;
const operations = operationsOf(document);

describe('OpenAPI fuzz', () => {
  let db: TestDatabase;
  let t: TestApp;
  let fuzzer: OpenApiFuzzer;
  const validators = new DocumentValidators(document);
  let tokens: fc.Arbitrary<string | null>;
  const statuses = new Map<string, Map<number, number>>();

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await buildTestApp(db, { ...WEBHOOK_ENV, WHATSAPP_VERIFY_TOKEN: VERIFY_TOKEN });
    const served = await t.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(served.json().paths).toEqual(document.paths);

    const a = await createClinic(db.pool, { patients: 3 });
    const b = await createClinic(db.pool, { patients: 1 });
    const slots = await Promise.all([
      ...Array.from({ length: 6 }, () => createSlot(db.pool, a)),
      ...Array.from({ length: 3 }, () => createSlot(db.pool, a, { priceCents: 2500, currency: 'USD' })),
      createSlot(db.pool, b),
    ]);
    const staffA = await token({ role: 'staff', clinic_id: a.clinicId });
    const adminA = await token({ role: 'clinic_admin', clinic_id: a.clinicId });
    const patientA = await token({ role: 'patient', clinic_id: a.clinicId, patient_id: a.patientIds[0] });
    const platform = await token({ role: 'platform_admin' });
    const staffB = await token({ role: 'staff', clinic_id: b.clinicId });
    const as = (jwt: string) => ({ authorization: `Bearer ${jwt}` });
    const create = async (url: string, payload: object) => {
      const response = await t.app.inject({ method: 'POST', url, headers: as(adminA), payload });
      expect(response.statusCode, response.body).toBe(201);
      return response.json();
    };
    const base = `/api/clinics/${a.clinicId}/practitioners/${a.practitionerId}`;
    const today = new Date().toISOString().slice(0, 10);
    const inDays = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString().slice(0, 10);
    const schedule = await create(`${base}/schedules`, {
      valid_from: today,
      slot_minutes: 30,
      horizon_days: 14,
      rules: [{ weekday: 3, start: '09:00', end: '11:00' }],
    });
    const exception = await create(`${base}/exceptions`, { date: inDays(20), closed: true });
    const timeOff = await create(`${base}/time-off`, {
      start_local: `${inDays(21)}T10:00`,
      end_local: `${inDays(21)}T11:00`,
    });
    const holiday = await create(`/api/clinics/${a.clinicId}/holidays`, { date: inDays(22) });
    const booked = await t.app.inject({
      method: 'POST',
      url: '/api/appointments',
      headers: { ...as(patientA), 'idempotency-key': 'fuzz-fixture' },
      payload: { slot_id: slots[0] },
    });
    expect(booked.statusCode, booked.body).toBe(201);
    const appointment = booked.json().appointment.id as string;

    const clinics = [a.clinicId, b.clinicId];
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000;
    const at = (days: number, minutes: number) =>
      new Date(hour + days * 86_400_000 + minutes * 60_000).toISOString();
    fuzzer = new OpenApiFuzzer(document, validators, {
      ids: {
        id: [...clinics, appointment, exception.exception.id, timeOff.time_off.id, holiday.holiday.id],
        clinic_id: clinics,
        practitioner_id: [a.practitionerId, b.practitionerId],
        patient_id: [...a.patientIds, ...b.patientIds],
        slot_id: slots,
        new_slot_id: slots,
        schedule_id: [schedule.schedule.id],
        ids: [appointment],
      },
      strings: {
        provider: ['stripe', 'twilio', 'whatsapp', 'daily'],
        integrationId: ['default', 'harbor', '00000000-0000-4000-8000-000000000000'],
        'hub.mode': ['subscribe'],
        'hub.verify_token': [VERIFY_TOKEN],
        // Slots an hour apart, 30 minutes long: mostly a valid pair, often one that overlaps.
        starts_at: [at(30, 0), at(30, 60)],
        ends_at: [at(30, 30), at(30, 90)],
        // Availability's local dates: a valid range (at most 62 days) most of the time, so that
        // the search itself is reached, not only its validation.
        'from:date': [at(0, 0).slice(0, 10), at(2, 0).slice(0, 10)],
        'to:date': [at(14, 0).slice(0, 10), at(40, 0).slice(0, 10)],
      },
    });
    tokens = fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(staffA, adminA, patientA, platform) },
      { weight: 1, arbitrary: fc.constantFrom(staffB, null, 'not.a.jwt') },
    );
  });
  afterAll(async () => {
    const lines = [...statuses].map(
      ([name, seen]) =>
        `${name}: ${[...seen]
          .sort(([x], [y]) => x - y)
          .map(([status, n]) => `${status}×${n}`)
          .join(' ')}`,
    );
    console.log(`statuses by operation (${RUNS} requests each)\n${lines.join('\n')}`);
    await t?.close();
    await db?.drop();
  });

  it('covers every operation of the document', () => {
    expect(operations.length).toBeGreaterThan(30);
  });

  for (const operation of operations) {
    const name = `${operation.method} ${operation.path}`;
    it(`${name}: ${RUNS} requests, none ≥ 500 or undeclared`, async () => {
      const seen = new Map<number, number>();
      statuses.set(name, seen);
      await fc.assert(
        fc.asyncProperty(fuzzer.requests(operation, tokens), async (request) => {
          const response = await t.app.inject(request.options);
          seen.set(response.statusCode, (seen.get(response.statusCode) ?? 0) + 1);
          const problems = conformanceProblems(validators, operation, request, response);
          if (problems.length > 0) {
            throw new Error(`${request.options.method} ${request.options.url} → ${problems.join('; ')}`);
          }
        }),
        { numRuns: RUNS },
      );
      // The fuzz reached the operation itself, not only validation and authentication.
      const before = new Set([400, 401, 403, 413, 414, 415, 429]);
      expect(
        [...seen.keys()].some((status) => !before.has(status)),
        name,
      ).toBe(true);
    });
  }

  it('answers what the fuzz found with 4xx problem+json: a long path segment, an astral replay reason, an unknown clinic', async () => {
    const admin = { authorization: `Bearer ${await token({ role: 'platform_admin' })}` };
    const long = await t.app.inject({
      method: 'GET',
      url: `/api/clinics/${'9'.repeat(101)}/slots`,
      headers: admin,
    });
    expect([long.statusCode, long.headers['content-type']]).toEqual([
      400,
      'application/problem+json; charset=utf-8',
    ]);
    const replay = await t.app.inject({
      method: 'POST',
      url: '/admin/webhook-events/replay',
      headers: admin,
      payload: { reason: ' !\u{10000}' }, // 3 UTF-16 units after trimming, 2 characters to PostgreSQL
    });
    expect([replay.statusCode, replay.json().code]).toEqual([400, 'validation_error']);
    const nowhere = await t.app.inject({
      method: 'POST',
      url: '/api/clinics/00000000-0000-4000-8000-000000000000/practitioners',
      headers: admin,
      payload: { full_name: 'Dr Nowhere', email: 'nowhere@x.example' },
    });
    expect([nowhere.statusCode, nowhere.json().code]).toEqual([422, 'reference_not_found']);
  });

  it('answers methods no operation declares with 405 and Allow, as problem+json', async () => {
    for (const path of Object.keys(document.paths)) {
      const declared = Object.keys(document.paths[path] ?? {}).map((m) => m.toUpperCase());
      const url = path.replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000');
      const response = await t.app.inject({ method: 'PATCH', url });
      expect(response.statusCode, path).toBe(405);
      expect(response.headers['content-type'], path).toContain('application/problem+json');
      expect(String(response.headers.allow).split(', '), path).toEqual(expect.arrayContaining(declared));
    }
  });
});
