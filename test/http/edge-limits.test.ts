// The HTTP edge, continued: rate limits (429 problem+json with Retry-After) on failed
// authentications, booking attempts per subject and bad webhook signatures per address; request
// ids in headers, problem bodies and log lines; CORS by allowlist; security headers; /metrics
// behind its token. Real sockets throughout.
import http from 'node:http';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { createLogger } from '../../src/observability/logger.js';
import { buildTestApp, TEST_JWT_SECRET, token } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { createClinic, createSlot } from '../helpers/fixtures.js';
import { listenOnFreePort } from '../helpers/sockets.js';

/** A request from a chosen loopback address (127.0.0.x), so that per-address limits can be told apart. */
function from(
  localAddress: string,
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      { method: init.method ?? 'GET', headers: init.headers, localAddress },
      (response) => {
        let text = '';
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: text ? JSON.parse(text) : {},
          }),
        );
      },
    );
    request.on('error', reject);
    request.end(init.body);
  });
}

describe('rate limits', () => {
  let db: TestDatabase;
  let app: FastifyInstance;
  let base: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    app = (
      await buildTestApp(db, {
        CAREBOOK_RATE_LIMIT_AUTH_FAILURES: '3',
        CAREBOOK_RATE_LIMIT_BOOKINGS: '2',
        CAREBOOK_RATE_LIMIT_WEBHOOK_FAILURES: '3',
        STRIPE_WEBHOOK_SECRET: 'whsec_limits',
      })
    ).app;
    base = `http://127.0.0.1:${await listenOnFreePort(app)}`;
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  const expect429 = (answer: Awaited<ReturnType<typeof from>>) => {
    expect(answer.status).toBe(429);
    expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(Number(answer.headers['retry-after'])).toBeGreaterThan(0);
    expect(answer.body).toMatchObject({ code: 'rate_limited', request_id: answer.headers['x-request-id'] });
  };

  it('refuses an address after 3 failed authentications, even with a valid token; other addresses are served', async () => {
    const bad = { authorization: 'Bearer not-a-token', 'x-forwarded-for': '10.9.9.9' };
    for (let i = 0; i < 3; i++)
      expect((await from('127.0.0.2', `${base}/api/appointments`, { headers: bad })).status).toBe(401);
    expect429(await from('127.0.0.2', `${base}/api/appointments`, { headers: bad }));
    const good = { authorization: `Bearer ${await token({ role: 'platform_admin' })}` };
    // A spoofed X-Forwarded-For changes nothing: no proxy is trusted.
    expect429(
      await from('127.0.0.2', `${base}/api/appointments`, {
        headers: { ...good, 'x-forwarded-for': '10.1.1.1' },
      }),
    );
    expect((await from('127.0.0.3', `${base}/api/appointments`, { headers: good })).status).toBe(200);
  });

  it('limits booking attempts per token subject, not per address', async () => {
    const clinic = await createClinic(db.pool, { patients: 2 });
    const slot = await createSlot(db.pool, clinic);
    const asPatient = async (i: number) => ({
      authorization: `Bearer ${await token({ sub: `booker-${i}`, role: 'patient', clinic_id: clinic.clinicId, patient_id: clinic.patientIds[i] })}`,
      'content-type': 'application/json',
    });
    const book = async (i: number, key: string) =>
      from('127.0.0.4', `${base}/api/appointments`, {
        method: 'POST',
        headers: { ...(await asPatient(i)), 'idempotency-key': key },
        body: JSON.stringify({ slot_id: slot }),
      });
    expect((await book(0, 'a')).status).toBe(201);
    expect((await book(0, 'b')).status).toBe(409);
    expect429(await book(0, 'c'));
    expect((await book(1, 'd')).status).toBe(409);
  });

  it('refuses an address after 3 bad webhook signatures; unknown accounts count too', async () => {
    const bad = { 'content-type': 'application/json', 'stripe-signature': 't=1,v1=00' };
    expect(
      (await from('127.0.0.5', `${base}/webhooks/stripe`, { method: 'POST', headers: bad, body: '{}' }))
        .status,
    ).toBe(401);
    expect(
      (
        await from('127.0.0.5', `${base}/webhooks/stripe/no-such-account`, {
          method: 'POST',
          headers: bad,
          body: '{}',
        })
      ).status,
    ).toBe(404);
    expect(
      (await from('127.0.0.5', `${base}/webhooks/stripe`, { method: 'POST', headers: bad, body: '{}' }))
        .status,
    ).toBe(401);
    expect429(
      await from('127.0.0.5', `${base}/webhooks/stripe`, { method: 'POST', headers: bad, body: '{}' }),
    );
    expect(
      (await from('127.0.0.6', `${base}/webhooks/stripe`, { method: 'POST', headers: bad, body: '{}' }))
        .status,
    ).toBe(401);
  });
});

describe('request ids, CORS, headers and /metrics', () => {
  let db: TestDatabase;
  let app: FastifyInstance;
  let base: string;
  const lines: Array<Record<string, unknown>> = [];
  beforeAll(async () => {
    db = await createTestDatabase();
    const sink = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    const config = loadConfig({
      CAREBOOK_JWT_SECRET: TEST_JWT_SECRET,
      CAREBOOK_CORS_ORIGINS: 'https://app.clinic.example',
      CAREBOOK_METRICS_TOKEN: 'edge-metrics-token',
    });
    app = await buildApp({ config, pool: db.pool, logger: createLogger('info', 'carebook', sink) });
    base = `http://127.0.0.1:${await listenOnFreePort(app)}`;
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('keeps a well-formed x-request-id, replaces a malformed one, and puts it in problem bodies and log lines', async () => {
    const kept = await fetch(`${base}/api/appointments`, { headers: { 'x-request-id': 'trace-42.abc' } });
    expect(kept.headers.get('x-request-id')).toBe('trace-42.abc');
    expect(await kept.json()).toMatchObject({ code: 'unauthorized', request_id: 'trace-42.abc' });
    const replaced = await fetch(`${base}/healthz`, {
      headers: { 'x-request-id': 'has spaces and "quotes"' },
    });
    const generated = await fetch(`${base}/healthz`);
    for (const response of [replaced, generated]) {
      expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(replaced.headers.get('x-request-id')).not.toBe(generated.headers.get('x-request-id'));
    const ours = lines.filter((line) => line.reqId === 'trace-42.abc');
    expect(ours.length).toBeGreaterThanOrEqual(2);
    expect(
      lines.filter((line) => 'req' in line || 'res' in line).every((line) => typeof line.reqId === 'string'),
    ).toBe(true);
  });

  it('never logs a secret carried in a query string', async () => {
    await fetch(
      `${base}/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=vt-secret-123&hub.challenge=9`,
    );
    await fetch(`${base}/api/appointments?access_token=eyJsecret`);
    const text = JSON.stringify(lines);
    expect(text).toContain('hub.challenge=9');
    expect(text).not.toContain('vt-secret-123');
    expect(text).not.toContain('eyJsecret');
  });

  it('answers CORS only for the allowed origin', async () => {
    const preflight = (origin: string) =>
      fetch(`${base}/api/appointments`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization',
        },
      });
    const allowed = await preflight('https://app.clinic.example');
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.clinic.example');
    const other = await preflight('https://evil.example');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('sends nosniff everywhere and no-store on API answers; /admin keeps its CSP', async () => {
    for (const path of ['/healthz', '/api/appointments', '/webhooks/stripe', '/admin']) {
      const response = await fetch(`${base}${path}`);
      expect(response.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(response.headers.get('cache-control'), path).toBe('no-store');
    }
    expect((await fetch(`${base}/admin`)).headers.get('content-security-policy')).toContain(
      "default-src 'none'",
    );
  });

  it('serves /metrics only with its token', async () => {
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    expect((await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const ok = await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer edge-metrics-token' } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('booking_attempts_total');
  });
});

describe('CORS and /metrics by default', () => {
  it('has no CORS and no /metrics on the API port unless configured', async () => {
    const db = await createTestDatabase();
    const config = loadConfig({ CAREBOOK_JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'silent' });
    const app = await buildApp({ config, pool: db.pool, logger: pino({ level: 'silent' }) });
    try {
      const base = `http://127.0.0.1:${await listenOnFreePort(app)}`;
      const preflight = await fetch(`${base}/api/appointments`, {
        method: 'OPTIONS',
        headers: { origin: 'https://app.clinic.example', 'access-control-request-method': 'POST' },
      });
      expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
      expect((await fetch(`${base}/metrics`)).status).toBe(404);
    } finally {
      await app.close();
      await db.drop();
    }
  });
});
