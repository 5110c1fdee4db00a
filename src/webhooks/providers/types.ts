// The contract every provider module fulfils: verify the raw request with the provider's real
// signature scheme, then split it into events (one row each in webhook_events).

export type ProviderName = 'stripe' | 'twilio' | 'whatsapp' | 'daily';

export interface RawWebhookRequest {
  /** The full public URL the provider called (scheme, host, port if any, path, query). */
  url: string;
  /** Header names in lower case. */
  headers: Record<string, string | undefined>;
  /** The body bytes exactly as received. */
  body: Buffer;
}

export interface VerifyOptions {
  /** Every currently valid secret (several during a rotation); any one may match. */
  secrets: readonly string[];
  /** Clock for the freshness check (tests pass a fixed one). */
  now?: Date;
  /** Allowed clock difference, both directions, where the scheme signs a timestamp. Default 300. */
  toleranceSeconds?: number;
  /** Replay of a stored event: check the signature, not the age. */
  ignoreTimestamp?: boolean;
}

export type VerifyFailure = 'missing_signature' | 'bad_signature' | 'stale_timestamp' | 'malformed_signature';

export type Verification = { ok: true } | { ok: false; reason: VerifyFailure };

export interface ProviderEvent {
  /** Dedup key within one integration (webhook_events.event_id). */
  eventId: string;
  /** e.g. payment_intent.succeeded, message.status, message.inbound, meeting.ended */
  eventType: string;
  /** What the handler needs, as JSON. */
  payload: Record<string, unknown>;
  /** Correlates retries of one business effect, when the provider gives one. */
  idempotencyKey?: string | null;
}

export class MalformedWebhookError extends Error {
  override name = 'MalformedWebhookError';
}

export interface WebhookProvider {
  name: ProviderName;
  /** Headers to store with the event so that a replay can verify it again (lower case). */
  signedHeaders: readonly string[];
  verify(request: RawWebhookRequest, options: VerifyOptions): Verification;
  /** Splits a verified request into events; throws MalformedWebhookError on a body it cannot read. */
  parse(request: RawWebhookRequest): ProviderEvent[];
  /** Daily's test ping: answered 200 with no side effects. Checked BEFORE verify, since it may be unsigned. */
  isTestPing?(request: RawWebhookRequest): boolean;
}
