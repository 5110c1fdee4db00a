// One error vocabulary for every provider call, so the outbox worker decides what to do from the
// classification alone and never parses a provider's own error format.
import type { ProviderName } from '../../webhooks/providers/types.js';

/**
 * What the worker may do next:
 * - `retryable`: safe to repeat as is (same idempotency key or room name); back off first.
 * - `permanent`: repeating cannot succeed; settle as failed (and compensate).
 * - `ambiguous`: the provider may have done it and has no idempotency for it (Twilio, WhatsApp),
 *   or would only replay the same answer for this key (Stripe): look the effect up before any
 *   resend or new key.
 * - `rate_limited`: nothing was done; repeat after `retryAfterMs` when the provider said so.
 */
export type FailureClass = 'retryable' | 'permanent' | 'ambiguous' | 'rate_limited';

/** Why, in words the worker and the metrics can switch on; the provider's own code is kept beside it. */
export type FailureReason =
  | 'network' // no answer: refused, reset or closed before a response
  | 'timeout' // no complete answer within the client's timeout
  | 'rate_limit'
  | 'conflict' // another request holds the object or the key (Stripe 409, lock_timeout)
  | 'server_error'
  | 'provider_config' // credentials or account set-up refused: stop the channel and alert
  | 'opted_out' // the recipient unsubscribed (Twilio 21610): record it, never retry
  | 'unreachable_recipient' // this channel cannot reach this recipient: fall back to another
  | 'idempotency_mismatch' // one key, different parameters: a code bug
  | 'unexpected_state' // the object is in a state that forbids the call (e.g. already paid)
  | 'not_found'
  | 'invalid_request'
  | 'invalid_response'; // a 2xx whose body is not what the API documents

export interface ProviderFailure {
  provider: ProviderName;
  /** The client method, e.g. `createPaymentIntent`. */
  operation: string;
  classification: FailureClass;
  reason: FailureReason;
  /** HTTP status, when a response arrived. */
  status: number | null;
  /** The provider's own code (`idempotency_key_in_use`, `21610`, `131026`, `rate-limit-error`). */
  providerCode: string | null;
  /** From the provider's Retry-After header, or a documented minimum (WhatsApp pair rate). */
  retryAfterMs: number | null;
  /** Only our own errors (a socket error, a local bug), never a provider's answer: see below. */
  cause?: unknown;
}

/**
 * The message is built from the fields above only. Provider messages are never copied into it:
 * they echo request values (Twilio's 21211 names the phone number) and Stripe's error objects
 * can carry a PaymentIntent with its client_secret.
 */
export class ProviderCallError extends Error {
  override readonly name = 'ProviderCallError';
  readonly provider: ProviderName;
  readonly operation: string;
  readonly classification: FailureClass;
  readonly reason: FailureReason;
  readonly status: number | null;
  readonly providerCode: string | null;
  readonly retryAfterMs: number | null;

  constructor(failure: ProviderFailure) {
    const status = failure.status === null ? '' : ` HTTP ${failure.status}`;
    const code = failure.providerCode === null ? '' : ` code ${failure.providerCode}`;
    super(
      `${failure.provider} ${failure.operation}: ${failure.classification} (${failure.reason}${status}${code})`,
      failure.cause === undefined ? undefined : { cause: failure.cause },
    );
    this.provider = failure.provider;
    this.operation = failure.operation;
    this.classification = failure.classification;
    this.reason = failure.reason;
    this.status = failure.status;
    this.providerCode = failure.providerCode;
    this.retryAfterMs = failure.retryAfterMs;
  }
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3); null if absent or bad. */
export function retryAfterMs(header: string | null | undefined, now = Date.now()): number | null {
  if (header === null || header === undefined || header.trim() === '') return null;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}
