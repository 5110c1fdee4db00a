// The contract every provider module fulfils: one descriptor holding all Carebook knows of a
// provider — its name, secrets, signature scheme, how a request splits into events, its reply and
// handshake, and the handlers of its event types. Everything else (configuration, routes, admin
// filters, log redaction, the secret check) reads the descriptors; webhook_providers mirrors them.
import type { TObject, TSchema } from 'typebox';
import type { Handler } from '../handlers/types.js';
import type { PROVIDERS } from './index.js';

/** The keys of PROVIDERS (./index.ts), the one list of providers. */
export type ProviderName = keyof typeof PROVIDERS;

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

/** An environment variable holding secrets, as the README's configuration table describes it. */
export interface SecretVariable {
  /** e.g. STRIPE_WEBHOOK_SECRET; `<name>_<SUFFIX>` holds a further account's (integrations.secret_ref). */
  name: string;
  description: string;
}

/** A request signed like the provider's own, carrying an event with no business effect. */
export interface SignedProbe {
  headers: Record<string, string>;
  body: string;
}

/** A 200 in the provider's own format instead of Carebook's JSON counts. */
export interface Reply {
  contentType: string;
  body: string;
  /** How the OpenAPI document names the body, e.g. "an empty TwiML document". */
  summary: string;
  schema: TSchema;
}

/** A GET the provider sends to check the URL before it delivers anything. */
export interface Handshake {
  /** The expected token(s); `<name>_<SUFFIX>` pairs with the secret variable of the same suffix. */
  token: SecretVariable;
  /** The query parameters the provider sends. */
  query: TObject;
  /** For the OpenAPI document, after the provider's title. */
  summary: string;
  description: string;
  /** The text/plain body of a 200 when the query carries one of the tokens; null answers 403. */
  answer(query: Readonly<Record<string, string | undefined>>, tokens: readonly string[]): string | null;
  /** The query a secret check sends with one token, and the body that proves it matched. */
  probe(token: string): { query: Record<string, string>; expect: string };
}

export interface WebhookProvider {
  name: ProviderName;
  /** The name as people write it (Stripe, WhatsApp), for messages and documents. */
  title: string;
  /** Signs (or authenticates) the requests of the provider's default account. */
  secret: SecretVariable;
  /** The integrations row behind /webhooks/{name} (webhook_providers.default_integration_id). */
  defaultIntegrationId: string;
  /**
   * Headers carrying the signature (lower case, the signature first): stored with the event so
   * that a replay can verify it again, and never logged.
   */
  signedHeaders: readonly string[];
  /**
   * The signature covers the URL the provider called (Twilio). That URL must then come from
   * CAREBOOK_PUBLIC_URL, never from the request's Host header, which the caller chooses.
   */
  signsUrl?: boolean;
  verify(request: RawWebhookRequest, options: VerifyOptions): Verification;
  /** Splits a verified request into events; throws MalformedWebhookError on a body it cannot read. */
  parse(request: RawWebhookRequest): ProviderEvent[];
  /** An endpoint test (Daily's ping): answered 200 with no side effects. Checked BEFORE verify, since it may be unsigned. */
  isTestPing?(request: RawWebhookRequest): boolean;
  reply?: Reply;
  handshake?: Handshake;
  /**
   * For the secret check after a rotation (`carebook check-secrets`): a request to `url` signed
   * with `secret`, whose events no handler turns into an effect (the worker notes them ignored).
   */
  probe(secret: string, url: string): SignedProbe;
  /** Event type → the handler of its business effect; other types are settled as ignored. */
  handlers: Readonly<Record<string, Handler>>;
}
