// Stripe through the official SDK, configured so that the outbox worker alone decides about retries:
// - maxNetworkRetries 0, and the fetch HTTP client: the SDK's Node client retries a reset or
//   closed connection once even with retries off (RequestSender._shouldRetry matches ECONNRESET
//   and EPIPE on error.code), while fetch's errors carry no such code, so nothing is sent twice
//   behind the worker's back. Its timeout also covers the whole exchange, body included
//   (test/outbound/stalled-body.test.ts), where the Node client's restarts at every stage
//   (the SDK's own FetchHttpClient comment).
// - every write carries the caller's Idempotency-Key, derived from the business effect, so a
//   retry after any failure replays Stripe's first answer instead of charging twice.
import Stripe from 'stripe';
import { ProviderCallError, retryAfterMs } from './errors.js';
import { wholeMilliseconds } from './http.js';

export interface StripeClientOptions {
  secretKey: string;
  /** STRIPE_API_BASE: scheme, host and port only (the SDK has no path prefix), e.g. `https://api.stripe.com`. */
  apiBase: string;
  /** Per call, below the outbox worker's lease. */
  timeoutMs: number;
}

export interface CreatePaymentIntent {
  /** e.g. `pi-create:{payment_id}:v{n}`; at most 255 characters. */
  idempotencyKey: string;
  amountCents: number;
  /** ISO 4217; sent in lower case. */
  currency: string;
  paymentId: string;
  appointmentId: string;
}

/** A PaymentIntent as the outbox may store it: never the client_secret. */
export interface PaymentIntentSummary {
  id: string;
  status: string;
  amountCents: number;
  currency: string;
  paymentId: string | null;
  appointmentId: string | null;
}

export interface CreateRefund {
  idempotencyKey: string;
  paymentIntentId: string;
  /** Omitted: the whole amount still refundable. */
  amountCents?: number;
  reason?: 'duplicate' | 'fraudulent' | 'requested_by_customer';
  paymentId: string;
}

export interface RefundSummary {
  id: string;
  status: string;
  amountCents: number;
  paymentIntentId: string | null;
}

export type CancellationReason = 'abandoned' | 'requested_by_customer' | 'duplicate' | 'fraudulent';

function summary(intent: Stripe.PaymentIntent): PaymentIntentSummary {
  return {
    id: intent.id,
    status: intent.status,
    amountCents: intent.amount,
    currency: intent.currency,
    paymentId: intent.metadata?.carebook_payment_id ?? null,
    appointmentId: intent.metadata?.carebook_appointment_id ?? null,
  };
}

function requireKey(key: string): void {
  if (key.length === 0 || key.length > 255)
    throw new RangeError('A Stripe Idempotency-Key is 1-255 characters');
}

/** Stripe's search syntax quotes values in single quotes; a quote or backslash inside is escaped. */
function searchValue(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

export class StripeClient {
  readonly #stripe: Stripe;

  constructor(options: StripeClientOptions) {
    const base = new URL(options.apiBase);
    if (base.pathname !== '/' || base.search !== '') {
      throw new RangeError('STRIPE_API_BASE takes a scheme, host and port only, e.g. https://api.stripe.com');
    }
    const protocol = base.protocol === 'http:' ? 'http' : 'https';
    this.#stripe = new Stripe(options.secretKey, {
      host: base.hostname,
      port: base.port === '' ? (protocol === 'http' ? 80 : 443) : Number(base.port),
      protocol,
      maxNetworkRetries: 0,
      timeout: wholeMilliseconds(options.timeoutMs),
      telemetry: false,
      httpClient: Stripe.createFetchHttpClient(),
    });
  }

  async createPaymentIntent(input: CreatePaymentIntent): Promise<PaymentIntentSummary> {
    requireKey(input.idempotencyKey);
    if (!Number.isInteger(input.amountCents) || input.amountCents <= 0) {
      throw new RangeError('amountCents must be a positive whole number of the smallest currency unit');
    }
    const currency = input.currency.toLowerCase();
    if (!/^[a-z]{3}$/.test(currency)) throw new RangeError('currency must be a three-letter ISO 4217 code');
    const intent = await this.#call('createPaymentIntent', () =>
      this.#stripe.paymentIntents.create(
        {
          amount: input.amountCents,
          currency,
          metadata: { carebook_payment_id: input.paymentId, carebook_appointment_id: input.appointmentId },
        },
        { idempotencyKey: input.idempotencyKey },
      ),
    );
    return summary(intent);
  }

  /** With the client_secret, for the paying patient's browser only: never store or log it. */
  async retrievePaymentIntent(id: string): Promise<PaymentIntentSummary & { clientSecret: string | null }> {
    const intent = await this.#call('retrievePaymentIntent', () => this.#stripe.paymentIntents.retrieve(id));
    return { ...summary(intent), clientSecret: intent.client_secret };
  }

  /**
   * Cancels the PaymentIntent; one that is already canceled counts as done. One that got paid
   * meanwhile throws `unexpected_state` (providerCode `payment_intent_unexpected_state`): the
   * caller confirms the booking or refunds it.
   */
  async cancelPaymentIntent(
    id: string,
    reason: CancellationReason,
    idempotencyKey: string,
  ): Promise<PaymentIntentSummary> {
    requireKey(idempotencyKey);
    try {
      const intent = await this.#stripe.paymentIntents.cancel(
        id,
        { cancellation_reason: reason },
        { idempotencyKey },
      );
      return summary(intent);
    } catch (error) {
      const intent = (error as { payment_intent?: Stripe.PaymentIntent }).payment_intent;
      if (
        error instanceof Stripe.errors.StripeError &&
        error.code === 'payment_intent_unexpected_state' &&
        intent?.status === 'canceled'
      ) {
        return summary(intent);
      }
      throw classify('cancelPaymentIntent', error);
    }
  }

  async createRefund(input: CreateRefund): Promise<RefundSummary> {
    requireKey(input.idempotencyKey);
    const refund = await this.#call('createRefund', () =>
      this.#stripe.refunds.create(
        {
          payment_intent: input.paymentIntentId,
          ...(input.amountCents === undefined ? {} : { amount: input.amountCents }),
          ...(input.reason === undefined ? {} : { reason: input.reason }),
          metadata: { carebook_payment_id: input.paymentId },
        },
        { idempotencyKey: input.idempotencyKey },
      ),
    );
    const intent = refund.payment_intent;
    return {
      id: refund.id,
      status: refund.status ?? 'unknown',
      amountCents: refund.amount,
      paymentIntentId: typeof intent === 'string' ? intent : (intent?.id ?? null),
    };
  }

  /**
   * Every PaymentIntent made for one payment, whatever its key: the reconcile step before a new
   * key version. Search trails writes by up to about a minute (Stripe's search docs); reconcile
   * runs when a key is about to be abandoned (a persistent replayed 500, or a key near its 24 h
   * expiry), long after the attempt it looks for.
   */
  async findPaymentIntents(paymentId: string): Promise<PaymentIntentSummary[]> {
    const query = `metadata['carebook_payment_id']:${searchValue(paymentId)}`;
    const found: PaymentIntentSummary[] = [];
    let page: string | undefined;
    do {
      const result = await this.#call('findPaymentIntents', () =>
        this.#stripe.paymentIntents.search({ query, limit: 100, ...(page === undefined ? {} : { page }) }),
      );
      found.push(...result.data.map(summary));
      page = result.has_more && result.next_page ? result.next_page : undefined;
    } while (page !== undefined);
    return found;
  }

  async #call<T>(operation: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw classify(operation, error);
    }
  }
}

/** research/outbound.md §1 "Errors and retryability", with Stripe-Should-Retry honoured. */
function classify(operation: string, error: unknown): ProviderCallError {
  if (!(error instanceof Stripe.errors.StripeError)) return unexpected(operation, error);
  const status = error.statusCode ?? null;
  const code = error.code ?? error.rawType ?? null;
  const shouldRetry = error.headers?.['stripe-should-retry'];
  const fields = {
    provider: 'stripe' as const,
    operation,
    status,
    providerCode: code ?? null,
    retryAfterMs: null,
  };
  if (error instanceof Stripe.errors.StripeConnectionError) {
    const timedOut = (error.detail as { code?: string } | undefined)?.code === 'ETIMEDOUT';
    return new ProviderCallError({
      ...fields,
      classification: 'retryable',
      reason: timedOut ? 'timeout' : 'network',
      cause: error.detail,
    });
  }
  if (status === null) {
    // A reply the SDK could not read (e.g. not JSON): the same key replays Stripe's stored answer.
    return new ProviderCallError({ ...fields, classification: 'retryable', reason: 'invalid_response' });
  }
  if (status === 429 && code !== 'lock_timeout') {
    return new ProviderCallError({
      ...fields,
      classification: 'rate_limited',
      reason: 'rate_limit',
      retryAfterMs: retryAfterMs(error.headers?.['retry-after']),
    });
  }
  if (status === 409 || code === 'lock_timeout') {
    return new ProviderCallError({ ...fields, classification: 'retryable', reason: 'conflict' });
  }
  if (status >= 500) {
    // `Stripe-Should-Retry: false` on a 5xx: the idempotency layer holds this answer for the key,
    // so only a lookup, then a new key, can move on.
    const classification = shouldRetry === 'false' ? 'ambiguous' : 'retryable';
    return new ProviderCallError({ ...fields, classification, reason: 'server_error' });
  }
  if (error.rawType === 'idempotency_error') {
    return new ProviderCallError({ ...fields, classification: 'permanent', reason: 'idempotency_mismatch' });
  }
  if (status === 401 || status === 403) {
    return new ProviderCallError({ ...fields, classification: 'permanent', reason: 'provider_config' });
  }
  if (shouldRetry === 'true')
    return new ProviderCallError({ ...fields, classification: 'retryable', reason: 'conflict' });
  if (status === 404)
    return new ProviderCallError({ ...fields, classification: 'permanent', reason: 'not_found' });
  if (code === 'payment_intent_unexpected_state' || code === 'charge_already_refunded') {
    return new ProviderCallError({ ...fields, classification: 'permanent', reason: 'unexpected_state' });
  }
  return new ProviderCallError({ ...fields, classification: 'permanent', reason: 'invalid_request' });
}

/** Not an API answer (a bug of ours or the SDK's): never retried blindly. */
function unexpected(operation: string, error: unknown): ProviderCallError {
  return new ProviderCallError({
    provider: 'stripe',
    operation,
    classification: 'permanent',
    reason: 'invalid_response',
    status: null,
    providerCode: null,
    retryAfterMs: null,
    cause: error,
  });
}
