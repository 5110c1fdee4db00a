// The clients' timeouts bound the whole exchange, body included: a provider that sends its headers
// and then stalls mid-body is cut off at the timeout, not waited on for ever. (The fakes' hang
// fault stalls before the headers; this server stalls after them.)
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DailyClient } from '../../src/outbound/clients/daily.js';
import { StripeClient } from '../../src/outbound/clients/stripe.js';
import { failure } from '../helpers/outbound.js';

let server: Server;
let base: string;
const sockets = new Set<Socket>();

beforeAll(async () => {
  server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.write('{"id": "pi_stalled", "name": ');
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => server.close(resolve));
});

it('Daily (fetch): a body stalled after the headers ends in a retryable timeout', async () => {
  const daily = new DailyClient({ apiKey: 'k', apiBase: `${base}/v1`, timeoutMs: 1000 });
  expect(await failure(daily.getRoom('stalled'))).toMatchObject({
    classification: 'retryable',
    reason: 'timeout',
  });
});

it("Stripe (the SDK's fetch client): the same stall ends in a retryable timeout", async () => {
  const stripe = new StripeClient({ secretKey: 'sk_test_x', apiBase: base, timeoutMs: 1000 });
  expect(await failure(stripe.retrievePaymentIntent('pi_stalled'))).toMatchObject({
    classification: 'retryable',
    reason: 'timeout',
  });
});
