// The HTTP edge against real sockets: a stalled or trickled body, slow headers, too many
// connections and unparseable requests are answered (problem+json, Connection: close) and cut —
// on the authenticated API and on the unauthenticated webhooks alike.

import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, token } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { listenOnFreePort, parseRawResponse, rawExchange } from '../helpers/sockets.js';

const TIMEOUT_SECONDS = 2;
/** The bound: answered within the request timeout plus 5 s. */
const BOUND_MS = (TIMEOUT_SECONDS + 5) * 1000;

describe('request timeouts', () => {
  let db: TestDatabase;
  let app: FastifyInstance;
  let port: number;
  let bearer: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    app = (
      await buildTestApp(db, {
        STRIPE_WEBHOOK_SECRET: 'whsec_edge_test',
        CAREBOOK_REQUEST_TIMEOUT_SECONDS: String(TIMEOUT_SECONDS),
      })
    ).app;
    port = await listenOnFreePort(app);
    bearer = await token({
      role: 'patient',
      clinic_id: '11111111-1111-4111-8111-111111111111',
      patient_id: '11111111-1111-4111-8111-111111111112',
    });
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  const expect408 = (raw: string) => {
    const answer = parseRawResponse(raw);
    expect(answer.status).toBe(408);
    expect(answer.headers['content-type']).toBe('application/problem+json');
    expect(answer.headers.connection).toBe('close');
    expect(answer.body).toMatchObject({ status: 408, code: 'request_timeout' });
    expect((answer.body as { request_id: string }).request_id).toBe(answer.headers['x-request-id']);
  };

  it('cuts a signed-in booking whose body stalls', async () => {
    const exchange = await rawExchange(
      port,
      [
        'POST /api/appointments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
          `Authorization: Bearer ${bearer}\r\nIdempotency-Key: stall-1\r\nContent-Length: 200\r\n\r\n{"slot_id":`,
      ],
      { giveUpMs: BOUND_MS + 5000 },
    );
    expect408(exchange.response);
    expect(exchange.closedAfterMs).toBeLessThan(BOUND_MS);
  });

  it('cuts an unsigned webhook whose body stalls (declared length, and chunked)', async () => {
    for (const parts of [
      [
        'POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{',
      ],
      [
        'POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"id"\r\n',
      ],
    ]) {
      const exchange = await rawExchange(port, parts, { giveUpMs: BOUND_MS + 5000 });
      expect408(exchange.response);
      expect(exchange.closedAfterMs).toBeLessThan(BOUND_MS);
    }
  });

  it('cuts a body trickled one byte at a time', async () => {
    const trickle = Array.from({ length: 40 }, (_, i) => [i % 2 ? 'x' : 'y', 250]).flat();
    const exchange = await rawExchange(
      port,
      [
        'POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n',
        ...trickle,
      ],
      { giveUpMs: BOUND_MS + 5000 },
    );
    expect408(exchange.response);
    expect(exchange.closedAfterMs).toBeLessThan(BOUND_MS);
  });

  it('cuts headers sent one byte at a time (slowloris)', async () => {
    const line = 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ';
    const parts = [line, ...Array.from({ length: 40 }, () => ['a', 250]).flat()];
    const exchange = await rawExchange(port, parts, { giveUpMs: BOUND_MS + 5000 });
    expect408(exchange.response);
    expect(exchange.closedAfterMs).toBeLessThan(BOUND_MS);
  });

  it('answers a complete request normally on the same server', async () => {
    const response = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(response.status).toBe(200);
  });
});

describe('connections and parser errors', () => {
  let db: TestDatabase;
  let app: FastifyInstance;
  let port: number;
  const CAP = 5;
  beforeAll(async () => {
    db = await createTestDatabase();
    app = (await buildTestApp(db, { CAREBOOK_MAX_CONNECTIONS: String(CAP) })).app;
    port = await listenOnFreePort(app);
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it(`closes connections beyond ${CAP} at once, and serves again when one is freed`, async () => {
    const open: net.Socket[] = [];
    for (let i = 0; i < CAP; i++) {
      const socket = net.connect({ port, host: '127.0.0.1' });
      socket.on('error', () => {});
      await new Promise((resolve) => socket.once('connect', resolve));
      open.push(socket);
    }
    // Node counts a connection once it accepted it: wait until all five are counted.
    await expect.poll(() => new Promise((r) => app.server.getConnections((_e, n) => r(n)))).toBe(CAP);
    const refused = await rawExchange(port, ['GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'], { giveUpMs: 5000 });
    expect(refused.response).toBe('');
    open.pop()?.destroy();
    await expect.poll(() => new Promise((r) => app.server.getConnections((_e, n) => r(n)))).toBe(CAP - 1);
    const served = await rawExchange(
      port,
      ['GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'],
      {
        giveUpMs: 5000,
      },
    );
    expect(parseRawResponse(served.response).status).toBe(200);
    for (const socket of open) socket.destroy();
  });

  it('answers oversized headers with 431 and garbage with 400, as problem+json with Connection: close', async () => {
    const huge = await rawExchange(
      port,
      [`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`],
      {
        giveUpMs: 5000,
      },
    );
    const big = parseRawResponse(huge.response);
    expect(big.status).toBe(431);
    expect(big.headers).toMatchObject({ 'content-type': 'application/problem+json', connection: 'close' });
    expect(big.body).toMatchObject({ code: 'headers_too_large' });
    const garbage = parseRawResponse(
      (await rawExchange(port, ['NOT A REQUEST\r\n\r\n'], { giveUpMs: 5000 })).response,
    );
    expect(garbage.status).toBe(400);
    expect(garbage.headers).toMatchObject({
      'content-type': 'application/problem+json',
      connection: 'close',
    });
    expect(garbage.body).toMatchObject({ code: 'bad_request' });
    expect(garbage.headers['x-content-type-options']).toBe('nosniff');
  });
});
