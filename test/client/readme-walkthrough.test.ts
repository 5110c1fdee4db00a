// The README's "Try it" walkthrough, run through a client generated from the served document
// (openapi-typescript types, openapi-fetch) against a real listening server on the demo data:
// list Dr. Ada's priced slots, book, retry (Idempotent-Replayed), conflict (409), cancel. It
// compiles only if the generated types fit these calls (a bare cancel, typed problem bodies).
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import createClient from 'openapi-fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { paths } from '../../client/schema.js';
import { DEMO } from '../../src/cli/serve.js';
import { type Listening, listen } from '../../src/http/server.js';
import { regenerateAll } from '../../src/schedules/generate-all.js';
import { buildTestApp, type TestApp, token } from '../helpers/app.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';

/** The README's ids: Dr. Ada Lovelace (priced slots, 5000 USD, in person) and a second patient. */
const DR_ADA = 'a1000000-0000-4000-8000-000000000001';
const OTHER_PATIENT = 'a3000000-0000-4000-8000-000000000002';

describe('README walkthrough through the generated client', () => {
  let db: TestDatabase;
  let t: TestApp;
  let server: Listening;
  let patient: ReturnType<typeof createClient<paths>>;
  let staff: ReturnType<typeof createClient<paths>>;

  beforeAll(async () => {
    db = await createTestDatabase();
    // As `npm start` does: the demo schedules, then their slots.
    await sql(db.pool, 'SELECT seed_demo_data(28)');
    await regenerateAll(db.pool, { actor: 'test' });
    t = await buildTestApp(db);
    server = await listen(t.app, '127.0.0.1', 0);
    const client = async (claims: Parameters<typeof token>[0]) =>
      createClient<paths>({
        baseUrl: server.url,
        headers: { authorization: `Bearer ${await token(claims)}` },
      });
    patient = await client({
      sub: 'demo-patient-pat',
      role: 'patient',
      clinic_id: DEMO.clinicId,
      patient_id: DEMO.patientId,
    });
    staff = await client({ sub: DEMO.clinicAdminId, role: 'clinic_admin', clinic_id: DEMO.clinicId });
  });
  afterAll(async () => {
    await server?.close();
    await db?.drop();
  });

  it('uses the ids the README uses', async () => {
    const readme = await readFile(path.resolve(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
    expect(readme).toContain(`practitioner_id=${DR_ADA}`);
    expect(readme).toContain(OTHER_PATIENT);
  });

  it('lists slots, books, retries, meets a conflict and cancels, as the README says', async () => {
    // 1. Dr. Ada's free slots: priced, so the booking waits for a payment.
    const listed = await patient.GET('/api/clinics/{id}/slots', {
      params: { path: { id: DEMO.clinicId }, query: { available: true, practitioner_id: DR_ADA, limit: 3 } },
    });
    expect(listed.response.status).toBe(200);
    const slots = listed.data?.slots ?? [];
    expect(slots).toHaveLength(3);
    for (const slot of slots) {
      expect(slot).toMatchObject({
        price_cents: 5000,
        currency: 'USD',
        visit_type: 'in_person',
        is_available: true,
      });
    }
    expect(listed.data?.has_more).toBe(true);
    const slotId = slots[0]!.id;

    // 2. Book it.
    const key = randomUUID();
    const book = () =>
      patient.POST('/api/appointments', {
        params: { header: { 'idempotency-key': key } },
        body: { slot_id: slotId },
      });
    const booked = await book();
    expect(booked.response.status).toBe(201);
    expect(booked.data?.appointment).toMatchObject({ slot_id: slotId, status: 'pending_payment' });
    expect(booked.data?.appointment.hold_expires_at).toEqual(expect.any(String));
    expect(booked.data?.payment).toMatchObject({ status: 'pending', amount_cents: 5000, currency: 'USD' });
    expect(booked.response.headers.get('idempotent-replayed')).toBeNull();

    // 3. The same request again: the same 201 and body, marked as a replay.
    const retried = await book();
    expect(retried.response.status).toBe(201);
    expect(retried.response.headers.get('idempotent-replayed')).toBe('true');
    expect(retried.data).toEqual(booked.data);

    // 4. Someone else on the same slot: 409 slot_unavailable, as problem+json.
    const conflict = await staff.POST('/api/appointments', {
      params: { header: { 'idempotency-key': randomUUID() } },
      body: { slot_id: slotId, patient_id: OTHER_PATIENT },
    });
    expect(conflict.response.status).toBe(409);
    expect(conflict.response.headers.get('content-type')).toContain('application/problem+json');
    expect(conflict.error?.code).toBe('slot_unavailable');

    // 5. Find the appointment by its slot and cancel it (no body): slot free, payment cancelled.
    const found = await patient.GET('/api/appointments', {
      params: { query: { slot_id: slotId, status: 'pending_payment' } },
    });
    expect(found.data?.appointments.map((a) => a.id)).toEqual([booked.data?.appointment.id]);
    expect(found.data).toMatchObject({ has_more: false, next_cursor: null });
    const appointmentId = found.data?.appointments[0]?.id as string;
    const cancelled = await patient.POST('/api/appointments/{id}/cancel', {
      params: { path: { id: appointmentId } },
    });
    expect(cancelled.response.status).toBe(200);
    expect(cancelled.data?.appointment.status).toBe('cancelled');
    expect(cancelled.data?.payment?.status).toBe('cancelled');
    const free = await patient.GET('/api/clinics/{id}/slots', {
      params: { path: { id: DEMO.clinicId }, query: { available: true, practitioner_id: DR_ADA, limit: 3 } },
    });
    expect(free.data?.slots.map((slot) => slot.id)).toContain(slotId);
  });
});
