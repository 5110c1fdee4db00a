// /healthz and /readyz, and the problem+json shape of unknown routes and methods.

import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { migrateDown, migrateUp } from '../../src/db/migrate/runner.js';
import { buildApp } from '../../src/http/app.js';
import { createLogger } from '../../src/observability/logger.js';
import { buildTestApp, TEST_JWT_SECRET } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

describe('health endpoints', () => {
  let db: TestDatabase;
  let app: FastifyInstance;
  beforeAll(async () => {
    db = await createTestDatabase();
    app = (await buildTestApp(db)).app;
  });
  afterAll(async () => {
    await app.close();
    await db.drop();
  });

  it('/healthz answers while the process is up', async () => {
    const response = await app.inject({ method: 'GET', url: '/healthz' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ok' });
  });

  it('/readyz is 200 when every migration is applied and verified', async () => {
    const response = await app.inject({ method: 'GET', url: '/readyz' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      status: 'ready',
      database: 'ok',
      migrations: { pending: [], problems: [] },
    });
  });

  it('/readyz is 503 naming the pending migration when one is not applied', async () => {
    const [reverted] = await migrateDown({ databaseUrl: db.url });
    try {
      const response = await app.inject({ method: 'GET', url: '/readyz' });
      expect(response.statusCode).toBe(503);
      expect(response.json()).toMatchObject({ status: 'not_ready', migrations: { pending: [reverted] } });
    } finally {
      await migrateUp({ databaseUrl: db.url });
    }
  });

  it('unknown routes get problem+json 404, wrong methods 405 with Allow', async () => {
    const missing = await app.inject({ method: 'GET', url: '/nope' });
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['content-type']).toContain('application/problem+json');
    expect(missing.json()).toMatchObject({ status: 404, code: 'not_found' });
    const wrongMethod = await app.inject({ method: 'DELETE', url: '/healthz' });
    expect(wrongMethod.statusCode).toBe(405);
    expect(wrongMethod.headers.allow).toContain('GET');
    expect(wrongMethod.json()).toMatchObject({ code: 'method_not_allowed' });
  });
});

describe('readiness without a database', () => {
  it('/readyz is 503 when the database cannot be reached', async () => {
    const { createPool } = await import('../../src/db/pool.js');
    const pool = createPool('postgres://nobody@127.0.0.1:1/none', { max: 1 });
    const app = await buildApp({
      config: loadConfig({ CAREBOOK_JWT_SECRET: TEST_JWT_SECRET }),
      pool,
      logger: createLogger('silent'),
    });
    try {
      const response = await app.inject({ method: 'GET', url: '/readyz' });
      expect(response.statusCode).toBe(503);
      expect(response.json()).toMatchObject({ status: 'not_ready', database: 'unreachable' });
    } finally {
      await app.close();
      await pool.end();
    }
  });
});
