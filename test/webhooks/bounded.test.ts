// Bounded resources (security review M1, M2, L11): the integration cache has a fixed size and
// answers a repeated unknown name without the database; a provider batch stores its raw body
// once; a token older than CAREBOOK_JWT_MAX_AGE, or issued in the future, is refused.
import { createSecretKey } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IntegrationDirectory } from '../../src/webhooks/integrations.js';
import { buildTestApp, TEST_JWT_SECRET, type TestApp } from '../helpers/app.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { sendWhatsApp, WEBHOOK_ENV, whatsappBody } from '../helpers/webhooks.js';

describe('bounded resources', () => {
  let db: TestDatabase;
  let t: TestApp;
  beforeAll(async () => {
    db = await createTestDatabase();
    t = await buildTestApp(db, { ...WEBHOOK_ENV, CAREBOOK_JWT_MAX_AGE: '1h' });
  });
  afterAll(async () => {
    await t?.close();
    await db?.drop();
  });

  it('keeps at most maxEntries integrations cached, misses included', async () => {
    const directory = new IntegrationDirectory(db.pool, { maxEntries: 50 });
    for (let i = 0; i < 500; i++) expect(await directory.find('stripe', `unknown-${i}`)).toBeNull();
    expect(directory.size).toBe(50);
    expect(await directory.find('stripe')).toMatchObject({ provider: 'stripe' });
  });

  it('answers a repeated unknown account name without a database round trip', async () => {
    let acquired = 0;
    const count = () => acquired++;
    db.pool.on('acquire', count);
    try {
      const post = () =>
        t.app.inject({
          method: 'POST',
          url: '/webhooks/stripe/nobody-here',
          headers: { 'content-type': 'application/json' },
          payload: '{}',
        });
      expect((await post()).statusCode).toBe(404);
      const afterFirst = acquired;
      expect(afterFirst).toBe(1);
      for (let i = 0; i < 20; i++) expect((await post()).statusCode).toBe(404);
      expect(acquired).toBe(afterFirst);
    } finally {
      db.pool.off('acquire', count);
    }
  });

  it('stores a WhatsApp batch of 2,000 statuses with its raw body once', async () => {
    const statuses = Array.from({ length: 2000 }, (_, i) => ({
      id: `wamid.BATCH${i}`,
      status: 'delivered',
      timestamp: '1700000100',
      recipient_id: '15550100000',
    }));
    const body = whatsappBody({ statuses });
    const response = await sendWhatsApp(t.app, body);
    expect(response.json()).toEqual({ received: 2000, duplicates: 0 });
    const [stored] = await sql<{ events: number; requests: number; bytes: number }>(
      db.pool,
      `SELECT count(DISTINCT e.id)::int AS events, count(DISTINCT r.id)::int AS requests,
              sum(DISTINCT octet_length(r.raw_body))::int AS bytes
         FROM webhook_events e JOIN webhook_requests r ON r.id = e.request_id
        WHERE e.event_id LIKE 'wamid.BATCH%'`,
    );
    expect(stored).toEqual({ events: 2000, requests: 1, bytes: Buffer.byteLength(body) });
    // The same batch again: every event is a duplicate, and no second copy of the body is kept.
    expect((await sendWhatsApp(t.app, body)).json()).toEqual({ received: 0, duplicates: 2000 });
    expect(await sql(db.pool, 'SELECT count(*)::int AS n FROM webhook_requests')).toEqual([{ n: 1 }]);
  });

  describe('token lifetime (CAREBOOK_JWT_MAX_AGE=1h)', () => {
    const key = createSecretKey(Buffer.from(TEST_JWT_SECRET, 'utf8'));
    const now = () => Math.floor(Date.now() / 1000);
    const sign = (iat: number | null, exp: number) => {
      const jwt = new SignJWT({ role: 'platform_admin' })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('a')
        .setExpirationTime(exp);
      return (iat === null ? jwt : jwt.setIssuedAt(iat)).sign(key);
    };
    const detail = async (token: string) => {
      const response = await t.app.inject({
        method: 'GET',
        url: '/api/appointments',
        headers: { authorization: `Bearer ${token}` },
      });
      return { status: response.statusCode, detail: (response.json() as { detail?: string }).detail };
    };

    it('accepts a token within the age, refuses one issued too long ago whatever its exp', async () => {
      expect((await detail(await sign(now() - 60, now() + 600))).status).toBe(200);
      expect(await detail(await sign(now() - 7200, now() + 100 * 365 * 86_400))).toEqual({
        status: 401,
        detail: 'the token is older than CAREBOOK_JWT_MAX_AGE allows (counted from its "iat")',
      });
    });

    it('refuses an iat in the future and a token without iat', async () => {
      expect(await detail(await sign(now() + 3600, now() + 7200))).toEqual({
        status: 401,
        detail: 'the token\'s "iat" lies in the future',
      });
      expect((await detail(await sign(null, now() + 600))).status).toBe(401);
    });
  });
});
