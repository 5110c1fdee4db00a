// The booking race through a real listening server and real parallel connections — the same
// scenario test/concurrency/k6_booking_test.js runs with k6 on GitHub:
//   200 requests (distinct keys and patients) at one slot → exactly one 201, every other 409
//   slot_unavailable, exactly one active appointment row; repeated over several slots.
//   50 requests with one key → one appointment, identical bodies.
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Listening, listen } from '../../src/http/server.js';
import { buildTestApp, TEST_METRICS_TOKEN, type TestApp, token } from '../helpers/app.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { type ClinicFixture, createClinic, createSlot } from '../helpers/fixtures.js';

const RACERS = 200;
const SLOTS = 3;
const TWINS = 50;

describe('concurrent booking through a listening server', () => {
  let db: TestDatabase;
  let t: TestApp;
  let server: Listening;
  let clinic: ClinicFixture;
  let tokens: string[];
  const agent = new Agent({ connections: RACERS, pipelining: 0 });

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await buildTestApp(db);
    server = await listen(t.app, '127.0.0.1', 0);
    clinic = await createClinic(db.pool, { patients: RACERS });
    tokens = await Promise.all(
      clinic.patientIds.map((patientId, i) =>
        token({ role: 'patient', clinic_id: clinic.clinicId, patient_id: patientId, sub: `racer-${i}` }),
      ),
    );
  });
  afterAll(async () => {
    await agent.close();
    await server.close();
    await db.drop();
  });

  const book = async (bearerToken: string, slotId: string, key: string) => {
    const response = await request(`${server.url}/api/appointments`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${bearerToken}`,
        'content-type': 'application/json',
        'idempotency-key': key,
      },
      body: JSON.stringify({ slot_id: slotId }),
      dispatcher: agent,
    });
    return {
      status: response.statusCode,
      replayed: response.headers['idempotent-replayed'],
      body: await response.body.text(),
    };
  };

  for (let round = 1; round <= SLOTS; round++) {
    it(`slot ${round}: ${RACERS} parallel requests, exactly one 201, the rest 409 slot_unavailable`, async () => {
      const slot = await createSlot(db.pool, clinic, { priceCents: 2500, currency: 'USD' });
      const results = await Promise.all(tokens.map((bearerToken) => book(bearerToken, slot, randomUUID())));
      const created = results.filter((r) => r.status === 201);
      const conflicts = results.filter(
        (r) => r.status === 409 && JSON.parse(r.body).code === 'slot_unavailable',
      );
      expect(created).toHaveLength(1);
      expect(conflicts).toHaveLength(RACERS - 1);
      const active = await sql(
        db.pool,
        `SELECT id FROM appointments WHERE slot_id = $1 AND status IN ('pending_payment', 'confirmed')`,
        [slot],
      );
      expect(active).toEqual([{ id: JSON.parse(created[0]?.body ?? '{}').appointment.id }]);
      expect(
        await sql(
          db.pool,
          'SELECT count(*)::int AS n FROM payments p JOIN appointments a ON a.id = p.appointment_id WHERE a.slot_id = $1',
          [slot],
        ),
      ).toEqual([{ n: 1 }]);
    });
  }

  it(`${TWINS} parallel requests with one key: one appointment, identical bodies`, async () => {
    const slot = await createSlot(db.pool, clinic);
    const key = randomUUID();
    const results = await Promise.all(Array.from({ length: TWINS }, () => book(tokens[0] ?? '', slot, key)));
    expect(new Set(results.map((r) => r.status))).toEqual(new Set([201]));
    expect(new Set(results.map((r) => r.body)).size).toBe(1);
    expect(results.filter((r) => r.replayed === 'true')).toHaveLength(TWINS - 1);
    expect(
      await sql(db.pool, 'SELECT count(*)::int AS n FROM appointments WHERE slot_id = $1', [slot]),
    ).toEqual([{ n: 1 }]);
  });

  it('counted every attempt in booking_attempts_total and the conflicts in booking_conflicts_total', async () => {
    const metrics = await (
      await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TEST_METRICS_TOKEN}` } })
    ).text();
    expect(metrics).toContain(`booking_conflicts_total ${SLOTS * (RACERS - 1)}`);
    expect(metrics).toContain(`booking_attempts_total{outcome="slot_unavailable"} ${SLOTS * (RACERS - 1)}`);
    expect(metrics).toContain(`booking_attempts_total{outcome="replayed"} ${TWINS - 1}`);
  });
});
