// What src/observability/scrape-gauges.ts promises: when the database read of a scrape fails, its
// gauges are absent (not 0, not the last values) while the rest of /metrics still answers. The app
// runs on a pool of its own; the database is then closed to new connections and the pool's
// connections are killed, so the next scrape's read really fails.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { buildApp } from '../../src/http/app.js';
import { createLogger } from '../../src/observability/logger.js';
import { TEST_JWT_SECRET, TEST_METRICS_TOKEN } from '../helpers/app.js';
import { adminUrl, createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { paymentIntent, sendStripe, stripeEvent, WEBHOOK_ENV } from '../helpers/webhooks.js';

describe('a scrape whose database read fails', () => {
  let db: TestDatabase;
  let pool: Pool;
  let app: Awaited<ReturnType<typeof buildApp>>;
  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool(db.serviceUrl, { max: 2, applicationName: 'carebook-scrape-test' });
    const env = {
      ...WEBHOOK_ENV,
      CAREBOOK_JWT_SECRET: TEST_JWT_SECRET,
      CAREBOOK_METRICS_TOKEN: TEST_METRICS_TOKEN,
    };
    app = await buildApp({ config: loadConfig(env), pool, logger: createLogger('silent') });
  });
  afterAll(async () => {
    await app?.close();
    await pool?.end();
    await db?.drop();
  });

  const scrape = async () => {
    const response = await app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: `Bearer ${TEST_METRICS_TOKEN}` },
    });
    return { status: response.statusCode, lines: response.body.split('\n') };
  };
  const samplesOf = (lines: string[], name: string) => lines.filter((line) => line.startsWith(`${name}{`));

  it('leaves the database gauges absent and answers the rest', async () => {
    const event = stripeEvent('payment_intent.succeeded', paymentIntent(null));
    expect((await sendStripe(app, event)).statusCode).toBe(200);
    const before = await scrape();
    expect(before.status).toBe(200);
    expect(samplesOf(before.lines, 'webhook_queue_depth')).toEqual([
      'webhook_queue_depth{provider="stripe"} 1',
    ]);
    expect(samplesOf(before.lines, 'queue_items').length).toBeGreaterThan(0);

    // From the server's admin database: a database cannot close itself to connections.
    const admin = new pg.Client({ connectionString: adminUrl() });
    await admin.connect();
    try {
      await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(db.name)} WITH ALLOW_CONNECTIONS false`);
      await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'carebook-scrape-test'`,
      );
    } finally {
      await admin.end();
    }
    const after = await scrape();
    expect(after.status).toBe(200);
    for (const name of ['webhook_queue_depth', 'webhook_dead_letters', 'queue_items', 'outbox_jobs']) {
      expect(samplesOf(after.lines, name), name).toEqual([]);
      expect(after.lines, name).toContain(`# TYPE ${name} gauge`);
    }
    expect(after.lines.some((line) => line.startsWith('carebook_process_cpu_user_seconds_total'))).toBe(true);
  });
});
