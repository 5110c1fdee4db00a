// Shared by the provider scheme tests: a raw request and a fixed clock.
import type { RawWebhookRequest } from '../../../src/webhooks/providers/types.js';

export function request(
  body: string | Buffer,
  headers: Record<string, string | undefined>,
  url = 'https://api.clinic.example/webhooks/x',
): RawWebhookRequest {
  return { url, headers, body: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8') };
}

export const at = (seconds: number) => new Date(seconds * 1000);
