// One HTTP exchange with a provider's JSON API (Daily, Twilio, WhatsApp), on Node's fetch: the
// caller's AbortSignal bounds the whole exchange, body included (test/outbound/stalled-body.test.ts),
// and nothing is retried here, so the outbox worker alone decides whether and when to repeat.
import type { ProviderName } from '../../webhooks/providers/types.js';
import { type FailureClass, type FailureReason, ProviderCallError, retryAfterMs } from './errors.js';

/**
 * A client's timeout in whole milliseconds. A third of the lease (outboxQueueKinds) often is not
 * one: AbortSignal.timeout throws on it, and stripe-node silently replaces it with its 80 s default.
 */
export function wholeMilliseconds(timeoutMs: number): number {
  return Math.ceil(timeoutMs);
}

export interface ProviderRequest {
  provider: ProviderName;
  operation: string;
  method: 'GET' | 'POST' | 'DELETE';
  url: string;
  headers: Record<string, string>;
  body?: string;
  /**
   * What a request that got no complete answer means: `retryable` when repeating it is harmless
   * (reads, and Daily's deterministic room names), `ambiguous` when it may have sent something no
   * key deduplicates (a Twilio or WhatsApp message).
   */
  unanswered: Extract<FailureClass, 'retryable' | 'ambiguous'>;
  /** Deadline for the exchange; a timeout shorter than the worker's lease. */
  signal: AbortSignal;
}

export interface ProviderAnswer {
  status: number;
  headers: Headers;
  /** The parsed JSON body; null when there was none or it was not JSON. */
  body: unknown;
}

// Failures that happen before any byte of the request can have reached the provider: repeating
// is always safe, even for a message.
const NEVER_SENT = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

function causeCode(error: unknown): string | undefined {
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}

function unansweredError(request: ProviderRequest, error: unknown): ProviderCallError {
  const timedOut = request.signal.aborted;
  const neverSent = !timedOut && NEVER_SENT.has(causeCode(error) ?? '');
  return new ProviderCallError({
    provider: request.provider,
    operation: request.operation,
    classification: neverSent ? 'retryable' : request.unanswered,
    reason: timedOut ? 'timeout' : 'network',
    status: null,
    providerCode: null,
    retryAfterMs: null,
    cause: error,
  });
}

/** Sends the request and returns the provider's answer, whatever its status; throws only when none came. */
export async function exchange(request: ProviderRequest): Promise<ProviderAnswer> {
  let response: Response;
  let text: string;
  try {
    response = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      signal: request.signal,
    });
    text = await response.text();
  } catch (error) {
    throw unansweredError(request, error);
  }
  let body: unknown = null;
  if (text !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  return { status: response.status, headers: response.headers, body };
}

/** A 2xx whose body lacks what the API documents: the effect probably happened, its id is unknown. */
export function invalidResponse(request: ProviderRequest, status: number): ProviderCallError {
  return new ProviderCallError({
    provider: request.provider,
    operation: request.operation,
    classification: request.unanswered,
    reason: 'invalid_response',
    status,
    providerCode: null,
    retryAfterMs: null,
  });
}

export interface Meaning {
  classification: FailureClass;
  reason: FailureReason;
  retryAfterMs?: number | null;
}

/** What a status means at every provider; each client refines it with the provider's own codes. */
function statusMeaning(request: ProviderRequest, answer: ProviderAnswer): Meaning {
  const { status } = answer;
  if (status === 429) {
    return {
      classification: 'rate_limited',
      reason: 'rate_limit',
      retryAfterMs: retryAfterMs(answer.headers.get('retry-after')),
    };
  }
  // A 5xx may come after the work was done: as ambiguous as no answer at all.
  if (status >= 500) return { classification: request.unanswered, reason: 'server_error' };
  if (status === 401 || status === 403) return { classification: 'permanent', reason: 'provider_config' };
  if (status === 404) return { classification: 'permanent', reason: 'not_found' };
  return { classification: 'permanent', reason: 'invalid_request' };
}

/** The error for a non-2xx answer: the status's meaning, or the provider code's where the client knows it. */
export function answerFailure(
  request: ProviderRequest,
  answer: ProviderAnswer,
  providerCode: string | null,
  meaning?: Meaning,
): ProviderCallError {
  const { classification, reason, retryAfterMs = null } = meaning ?? statusMeaning(request, answer);
  return new ProviderCallError({
    provider: request.provider,
    operation: request.operation,
    classification,
    reason,
    status: answer.status,
    providerCode,
    retryAfterMs,
  });
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
