// Pieces every provider module shares: HMAC, constant-time comparison, trying every configured
// secret (rotation), the freshness window for signed timestamps, reading a JSON body into an
// object, and the ids and clock of secret-check probes. The provider modules keep only what is
// specific to each scheme.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { MalformedWebhookError, type RawWebhookRequest, type VerifyOptions } from './types.js';

export const DEFAULT_TOLERANCE_SECONDS = 300;

export function hmac(
  algorithm: 'sha1' | 'sha256',
  key: string | Buffer,
  data: string | Buffer,
  encoding: 'hex' | 'base64',
): string {
  return createHmac(algorithm, key).update(data).digest(encoding);
}

/**
 * Constant-time equality of two strings' UTF-8 bytes. timingSafeEqual throws on buffers of
 * different lengths, so the length is compared first; a length leaks nothing about a digest.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * True when a signature computed with any configured secret equals any received signature.
 * Every pair is compared (no early exit), so the timing does not tell which secret matched.
 * No secrets means nothing can match: an unconfigured integration never accepts an event.
 */
export function anySecretMatches(
  secrets: readonly string[],
  expectedFor: (secret: string) => readonly string[],
  received: readonly string[],
): boolean {
  let matched = false;
  for (const secret of secrets) {
    for (const expected of expectedFor(secret)) {
      for (const candidate of received) {
        if (constantTimeEqual(expected, candidate)) matched = true;
      }
    }
  }
  return matched;
}

/** Within the tolerance in both directions (Stripe's SDK only bounds the past; we bound both). */
export function isFresh(timestampSeconds: number, options: VerifyOptions): boolean {
  if (options.ignoreTimestamp) return true;
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const nowSeconds = (options.now ?? new Date()).getTime() / 1000;
  return Math.abs(nowSeconds - timestampSeconds) <= tolerance;
}

/** A header's value; an empty value counts as absent (Stripe's SDK does the same). */
export function headerValue(request: RawWebhookRequest, name: string): string | undefined {
  const value = request.headers[name];
  return value === undefined || value === '' ? undefined : value;
}

/** `{ a: 1 }`, not an array, null or a scalar. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The body as a JSON object, or MalformedWebhookError naming the provider. */
export function readJsonObject(body: Buffer, provider: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new MalformedWebhookError(`${provider} body is not JSON`, { cause: error });
  }
  if (!isPlainObject(parsed)) throw new MalformedWebhookError(`${provider} body is not a JSON object`);
  return parsed;
}

/** A non-empty string field, or MalformedWebhookError. */
export function requireString(object: Record<string, unknown>, field: string, provider: string): string {
  const value = object[field];
  if (typeof value !== 'string' || value === '') {
    throw new MalformedWebhookError(`${provider} body has no ${field}`);
  }
  return value;
}

/** A fresh suffix for a probe's event id, so that every check stores a new event. */
export function probeId(): string {
  return randomBytes(8).toString('hex');
}

/** Now in whole seconds since the epoch, as providers sign timestamps. */
export function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}
