// One outbound test file's world, set up before its tests and taken down after them: a test
// database, the four fake providers, the app pointed at them, a clinic, and a drain that runs the
// worker over every queue kind until nothing is due (effects stage further effects: a payment
// confirms, a confirmation sends), and a booking through the API.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect } from 'vitest';
import { bearer, buildTestApp, type TestApp } from './app.js';
import { createTestDatabase, type TestDatabase } from './db.js';
import { type ClinicFixture, createClinic } from './fixtures.js';
import { drainOutbox, type OutboundFakes, startOutboundFakes } from './outbox.js';

export interface OutboundSuite {
  db: TestDatabase;
  t: TestApp;
  fakes: OutboundFakes;
  /** The environment the app runs with: the fakes' URLs and keys, plus the suite's own. */
  env: Record<string, string>;
  clinic: ClinicFixture;
  drain(): Promise<void>;
  /** Books `slot` through the API as the clinic's patient number `patient` (expects 201). */
  book(slot: string, patient?: number): Promise<Booking>;
}

export interface Booking {
  appointment: { id: string };
  payment: { id: string } | null;
}

export function outboundSuite(options: {
  patients: number;
  phonePrefix: string;
  env?: Record<string, string>;
}): OutboundSuite {
  const suite = {
    drain: () => drainOutbox(suite.db.pool, suite.env, suite.t.metrics),
    async book(slot, patient = 0) {
      const response = await suite.t.app.inject({
        method: 'POST',
        url: '/api/appointments',
        headers: {
          ...(await bearer({
            role: 'patient',
            clinic_id: suite.clinic.clinicId,
            patient_id: suite.clinic.patientIds[patient],
            sub: `patient-${patient}`,
          })),
          'idempotency-key': randomUUID(),
        },
        payload: { slot_id: slot },
      });
      expect(response.statusCode, response.body).toBe(201);
      return response.json() as Booking;
    },
  } as OutboundSuite;
  beforeAll(async () => {
    suite.db = await createTestDatabase();
    const started = await startOutboundFakes();
    suite.fakes = started.fakes;
    suite.env = { ...started.env, ...options.env };
    suite.t = await buildTestApp(suite.db, suite.env);
    suite.clinic = await createClinic(suite.db.pool, {
      patients: options.patients,
      phonePrefix: options.phonePrefix,
    });
  });
  afterAll(async () => {
    await suite.t?.close();
    await suite.fakes?.stop();
    await suite.db?.drop();
  });
  return suite;
}
