// The schedule and availability routes in the OpenAPI document: every one has an operationId and
// tags, and the main bodies keep their schema names.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

describe('OpenAPI document', () => {
  let db: TestDatabase;
  let t: TestApp;
  beforeAll(async () => {
    db = await createTestDatabase();
    t = await buildTestApp(db);
  });
  afterAll(async () => {
    await t.close();
    await db.drop();
  });

  it('describes the schedule and availability routes with operation ids and tags', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(response.statusCode).toBe(200);
    const document = response.json() as {
      paths: Record<string, Record<string, { operationId?: string; tags?: string[] }>>;
    };
    const ours = Object.entries(document.paths).filter(
      ([path]) =>
        path.includes('/schedules') ||
        path.includes('/exceptions') ||
        path.includes('/time-off') ||
        path.includes('/holidays') ||
        path.includes('/availability') ||
        path.includes('needing-review'),
    );
    const operations = ours.flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({ path, method, op })),
    );
    expect(operations).toHaveLength(16);
    for (const { path, method, op } of operations) {
      expect(op.operationId, `${method} ${path}`).toMatch(/^[a-z][A-Za-z]+$/);
      expect(op.tags?.length, `${method} ${path}`).toBeGreaterThan(0);
    }
    expect(new Set(operations.map((o) => o.op.operationId)).size).toBe(16);
    expect(
      document.paths['/api/clinics/{clinic_id}/practitioners/{practitioner_id}/schedules'],
    ).toBeDefined();
    expect(document.paths['/api/availability']?.get?.operationId).toBe('searchAvailability');
  });
});
