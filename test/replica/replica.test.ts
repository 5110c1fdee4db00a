// Availability on a real streaming replica: the API reads it (with the same roles, tenant settings
// and row-level security), writes and bookings go to the primary, and a read that lags behind a
// write shows a slot that booking then refuses with 409 slot_unavailable (docs/ops/schedules.md).
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Temporal } from 'temporal-polyfill';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { migrateUp } from '../../src/db/migrate/runner.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { withTenant } from '../../src/db/tenant.js';
import { buildApp } from '../../src/http/app.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { bearer, TEST_JWT_SECRET } from '../helpers/app.js';
import { createClinic } from '../helpers/fixtures.js';
import { type StreamingPair, startStreamingPair } from './streaming-replica.js';

describe('availability on a streaming replica', () => {
  let pair: StreamingPair;
  let primary: Pool;
  let standby: Pool;
  let app: FastifyInstance;
  beforeAll(async () => {
    pair = await startStreamingPair();
    const admin = createPool(pair.primaryUrl('postgres'), { max: 1 });
    await admin.query('CREATE DATABASE carebook');
    await admin.end();
    await migrateUp({ databaseUrl: pair.primaryUrl('carebook') });
    await pair.catchUp();
    primary = createPool(pair.primaryUrl('carebook'), { max: 5 });
    standby = createPool(pair.standbyUrl('carebook'), { max: 5 });
    const config = loadConfig({ CAREBOOK_JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'silent' });
    app = await buildApp({
      config,
      pool: primary,
      readPool: standby,
      logger: createLogger('silent'),
      metrics: createMetrics({ queueStats: async () => [] }),
    });
  });
  afterAll(async () => {
    await app?.close();
    await primary?.end();
    await standby?.end();
    await pair?.stop();
  });

  it('serves search from the standby, books on the primary, and refuses a slot a lagging read still shows', async () => {
    const clinic = await createClinic(primary);
    const staff = await bearer({ role: 'clinic_admin', clinic_id: clinic.clinicId, sub: 'desk' });
    const patient = await bearer({
      role: 'patient',
      clinic_id: clinic.clinicId,
      patient_id: clinic.patientIds[0],
    });
    const created = await app.inject({
      method: 'POST',
      url: `/api/clinics/${clinic.clinicId}/practitioners/${clinic.practitionerId}/schedules`,
      headers: staff,
      payload: {
        valid_from: '2025-01-06',
        slot_minutes: 60,
        horizon_days: 5,
        rules: [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '09:00', end: '12:00' })),
      },
    });
    expect(created.statusCode, created.body).toBe(201);
    const today = Temporal.Now.plainDateISO('UTC');
    const url = `/api/availability?clinic_id=${clinic.clinicId}&from=${today.add({ days: 1 })}&to=${today.add({ days: 3 })}`;
    const slotIds = async () =>
      (
        (await app.inject({ method: 'GET', url, headers: patient })).json() as {
          days: Array<{ slots: Array<{ slot_id: string }> }>;
        }
      ).days.flatMap((d) => d.slots.map((s) => s.slot_id));

    await pair.catchUp();
    const listed = await slotIds();
    expect(listed).toHaveLength(9);

    // The standby applies the same row-level security: another clinic's context sees nothing.
    const other = await createClinic(primary);
    await pair.catchUp();
    const visible = await withTenant(
      standby,
      {
        dbRole: 'carebook_app',
        appRole: 'patient',
        clinicId: other.clinicId,
        userId: 'p',
        patientId: other.patientIds[0],
      },
      async (client) => (await client.query('SELECT count(*)::int AS n FROM appointment_slots')).rows[0]?.n,
    );
    expect(visible).toBe(0);
    const [inRecovery] = (await standby.query('SELECT pg_is_in_recovery() AS value')).rows;
    expect(inRecovery?.value).toBe(true);

    // Lag: the standby stops replaying, the primary takes a booking.
    await pair.pauseReplay();
    const first = listed[0] as string;
    const booked = await app.inject({
      method: 'POST',
      url: '/api/appointments',
      headers: { ...patient, 'idempotency-key': randomUUID() },
      payload: { slot_id: first },
    });
    expect(booked.statusCode, booked.body).toBe(201);
    expect(await slotIds()).toContain(first); // the lagging read still lists it
    const second = await app.inject({
      method: 'POST',
      url: '/api/appointments',
      headers: {
        ...(await bearer({ role: 'clinic_admin', clinic_id: clinic.clinicId })),
        'idempotency-key': randomUUID(),
      },
      payload: { slot_id: first, patient_id: clinic.patientIds[1] },
    });
    expect(second.statusCode).toBe(409);
    expect(second.json().code).toBe('slot_unavailable');

    await pair.resumeReplay();
    await pair.catchUp();
    const after = await slotIds();
    expect(after).not.toContain(first);
    expect(after).toHaveLength(8);
  });
});
