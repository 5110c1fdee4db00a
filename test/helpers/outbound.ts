// Shared by the provider-client tests: catching the one error class, and a local endpoint that
// records raw webhook deliveries from the fakes, so our own verifiers can check them.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import { ProviderCallError } from '../../src/outbound/clients/errors.js';
import type { RawWebhookRequest } from '../../src/webhooks/providers/types.js';

/** The ProviderCallError the call fails with; fails the test if it succeeds or throws anything else. */
export async function failure(call: Promise<unknown>): Promise<ProviderCallError> {
  const outcome = await call.then(
    () => null,
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(ProviderCallError);
  return outcome as ProviderCallError;
}

/** Everything a ProviderCallError shows a log line: its message, its JSON and its fields. */
export function rendered(error: ProviderCallError): string {
  return `${String(error)} ${JSON.stringify(error)} ${JSON.stringify({ ...error })}`;
}

export interface WebhookReceiver {
  url: string;
  received: RawWebhookRequest[];
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: RawWebhookRequest[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(request.headers)) {
        if (typeof value === 'string') headers[name] = value;
      }
      const { port } = server.address() as AddressInfo;
      received.push({ url: `http://127.0.0.1:${port}${request.url}`, headers, body: Buffer.concat(chunks) });
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}
