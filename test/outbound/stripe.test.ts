// The Stripe client against the fake Stripe over real sockets: what it sends, how every fault is
// classified, and the idempotency proofs the outbox relies on (one PaymentIntent per key).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Fakes, startFakes } from '../../src/dev/fakes/index.js';
import { type CreatePaymentIntent, StripeClient } from '../../src/outbound/clients/stripe.js';
import { failure, rendered } from '../helpers/outbound.js';

const SECRET_KEY = 'sk_test_carebook_fake_0001';
let fakes: Fakes<{ stripe: { secretKey: string } }>;
let stripe: StripeClient;

beforeAll(async () => {
  fakes = await startFakes({ stripe: { secretKey: SECRET_KEY } });
  stripe = new StripeClient({ secretKey: SECRET_KEY, apiBase: fakes.urls.stripe, timeoutMs: 10_000 });
});
afterAll(() => fakes.stop());

const CREATE = 'POST /v1/payment_intents' as const;

function intentFor(paymentId = randomUUID(), version = 1): CreatePaymentIntent {
  return {
    idempotencyKey: `pi-create:${paymentId}:v${version}`,
    amountCents: 5000,
    currency: 'USD',
    paymentId,
    appointmentId: randomUUID(),
  };
}

describe('creating a PaymentIntent', () => {
  it('sends the amount, lowercase currency and our metadata, and hands back no client_secret', async () => {
    const input = intentFor();
    const created = await stripe.createPaymentIntent(input);
    expect(created).toEqual({
      id: expect.stringMatching(/^pi_/),
      status: 'requires_payment_method',
      amountCents: 5000,
      currency: 'usd',
      paymentId: input.paymentId,
      appointmentId: input.appointmentId,
    });
    expect(JSON.stringify(created)).not.toContain('_secret_');
    const [stored] = fakes.stripe.paymentIntents(input.paymentId);
    expect(stored).toMatchObject({
      id: created.id,
      amount: 5000,
      currency: 'usd',
      metadata: { carebook_payment_id: input.paymentId, carebook_appointment_id: input.appointmentId },
    });
  });

  it('makes one PaymentIntent when the same key is sent twice', async () => {
    const input = intentFor();
    const first = await stripe.createPaymentIntent(input);
    const second = await stripe.createPaymentIntent(input);
    expect(second.id).toBe(first.id);
    expect(fakes.stripe.paymentIntents(input.paymentId)).toHaveLength(1);
  });

  it('refuses changed parameters under one key as a permanent idempotency mismatch', async () => {
    const input = intentFor();
    await stripe.createPaymentIntent(input);
    const error = await failure(stripe.createPaymentIntent({ ...input, amountCents: 6000 }));
    expect(error).toMatchObject({
      provider: 'stripe',
      classification: 'permanent',
      reason: 'idempotency_mismatch',
      status: 400,
      providerCode: 'idempotency_error',
    });
    expect(fakes.stripe.paymentIntents(input.paymentId)).toHaveLength(1);
  });

  it('keeps one PaymentIntent when the reply is dropped after the work and the call is retried', async () => {
    const input = intentFor();
    const before = fakes.stripe.requests(CREATE);
    fakes.stripe.inject(CREATE, { kind: 'drop_after_work' });
    const error = await failure(stripe.createPaymentIntent(input));
    expect(error).toMatchObject({ classification: 'retryable', reason: 'network', status: null });
    // The SDK sent it once: no retry behind the worker's back.
    expect(fakes.stripe.requests(CREATE)).toBe(before + 1);
    expect(fakes.stripe.paymentIntents(input.paymentId)).toHaveLength(1);

    const retried = await stripe.createPaymentIntent(input);
    expect(fakes.stripe.paymentIntents(input.paymentId).map((intent) => intent.id)).toEqual([retried.id]);
  });

  it('treats a 500 after the work as ambiguous: the key replays it, and the lookup finds the one PaymentIntent', async () => {
    const input = intentFor();
    fakes.stripe.inject(CREATE, { kind: 'error_after_work' });
    const error = await failure(stripe.createPaymentIntent(input));
    expect(error).toMatchObject({ classification: 'ambiguous', reason: 'server_error', status: 500 });
    const replayed = await failure(stripe.createPaymentIntent(input));
    expect(replayed).toMatchObject({ classification: 'ambiguous', status: 500 });

    const found = await stripe.findPaymentIntents(input.paymentId);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ paymentId: input.paymentId, appointmentId: input.appointmentId });
    expect(fakes.stripe.paymentIntents(input.paymentId)).toHaveLength(1);
  });

  it('answers a duplicate while the first is in flight with a retryable 409, and the key stays usable', async () => {
    const input = intentFor();
    fakes.stripe.inject(CREATE, { kind: 'hang' });
    const first = failure(stripe.createPaymentIntent(input));
    await vi.waitFor(() => expect(fakes.stripe.hanging()).toBe(1), { timeout: 10_000 });
    const duplicate = await failure(stripe.createPaymentIntent(input));
    expect(duplicate).toMatchObject({
      classification: 'retryable',
      reason: 'conflict',
      status: 409,
      providerCode: 'idempotency_key_in_use',
    });
    fakes.stripe.releaseHangs();
    expect(await first).toMatchObject({ classification: 'retryable', reason: 'network' });
    // The held request did nothing, so the key was released and a retry creates the one object.
    await stripe.createPaymentIntent(input);
    expect(fakes.stripe.paymentIntents(input.paymentId)).toHaveLength(1);
  });

  it('honours a client timeout shorter than the hang, as retryable with the same key', async () => {
    const quick = new StripeClient({ secretKey: SECRET_KEY, apiBase: fakes.urls.stripe, timeoutMs: 1000 });
    const input = intentFor();
    fakes.stripe.inject(CREATE, { kind: 'hang', afterWork: true });
    const error = await failure(quick.createPaymentIntent(input));
    expect(error).toMatchObject({ classification: 'retryable', reason: 'timeout' });
    // The client hung up: the fake holds nothing open.
    await vi.waitFor(() => expect(fakes.stripe.hanging()).toBe(0), { timeout: 10_000 });
    const retried = await stripe.createPaymentIntent(input);
    expect(fakes.stripe.paymentIntents(input.paymentId).map((intent) => intent.id)).toEqual([retried.id]);
  });

  it('classifies rate limits, lock timeouts and plain 5xx, none of which stored anything', async () => {
    const input = intentFor();
    fakes.stripe.inject(
      CREATE,
      { kind: 'rate_limit', retryAfterSeconds: 7 },
      { kind: 'rate_limit' },
      { kind: 'reject', code: 'lock_timeout' },
      { kind: 'reject', code: 'api_error' },
    );
    expect(await failure(stripe.createPaymentIntent(input))).toMatchObject({
      classification: 'rate_limited',
      status: 429,
      retryAfterMs: 7000,
    });
    expect(await failure(stripe.createPaymentIntent(input))).toMatchObject({
      classification: 'rate_limited',
      retryAfterMs: null,
    });
    expect(await failure(stripe.createPaymentIntent(input))).toMatchObject({
      classification: 'retryable',
      reason: 'conflict',
      providerCode: 'lock_timeout',
    });
    expect(await failure(stripe.createPaymentIntent(input))).toMatchObject({
      classification: 'retryable',
      reason: 'server_error',
      status: 500,
    });
    expect(fakes.stripe.paymentIntents(input.paymentId)).toHaveLength(0);
    await stripe.createPaymentIntent(input);
    expect(fakes.stripe.paymentIntents(input.paymentId)).toHaveLength(1);
  });

  it('reports a wrong secret key as a permanent configuration problem without echoing the key', async () => {
    const wrongKey = 'sk_test_not_the_right_one_9999';
    const wrong = new StripeClient({ secretKey: wrongKey, apiBase: fakes.urls.stripe, timeoutMs: 10_000 });
    const error = await failure(wrong.createPaymentIntent(intentFor()));
    expect(error).toMatchObject({ classification: 'permanent', reason: 'provider_config', status: 401 });
    expect(rendered(error)).not.toContain(wrongKey);
  });
});

describe('retrieving, cancelling and refunding', () => {
  it('retrieves the client_secret on demand and reports an unknown id as not found', async () => {
    const created = await stripe.createPaymentIntent(intentFor());
    const retrieved = await stripe.retrievePaymentIntent(created.id);
    expect(retrieved.clientSecret).toBe(
      fakes.stripe.paymentIntents().find((i) => i.id === created.id)?.client_secret,
    );
    const error = await failure(stripe.retrievePaymentIntent('pi_does_not_exist'));
    expect(error).toMatchObject({ classification: 'permanent', reason: 'not_found', status: 404 });
  });

  it('cancels as abandoned, and counts an already canceled PaymentIntent as done', async () => {
    const input = intentFor();
    const created = await stripe.createPaymentIntent(input);
    const canceled = await stripe.cancelPaymentIntent(
      created.id,
      'abandoned',
      `pi-cancel:${input.paymentId}:v1`,
    );
    expect(canceled.status).toBe('canceled');
    expect(fakes.stripe.paymentIntents(input.paymentId)[0]?.cancellation_reason).toBe('abandoned');
    const again = await stripe.cancelPaymentIntent(
      created.id,
      'abandoned',
      `pi-cancel:${input.paymentId}:v2`,
    );
    expect(again.status).toBe('canceled');
  });

  it('refuses to cancel a paid PaymentIntent with unexpected_state, and leaks no client_secret', async () => {
    const input = intentFor();
    const created = await stripe.createPaymentIntent(input);
    await fakes.stripe.succeed(created.id);
    const error = await failure(
      stripe.cancelPaymentIntent(created.id, 'abandoned', `pi-cancel:${input.paymentId}:v1`),
    );
    expect(error).toMatchObject({
      classification: 'permanent',
      reason: 'unexpected_state',
      providerCode: 'payment_intent_unexpected_state',
    });
    expect(rendered(error)).not.toContain('_secret_');
    expect(fakes.stripe.paymentIntents(input.paymentId)[0]?.status).toBe('succeeded');
  });

  it('refunds once per key, and a second full refund is an unexpected state', async () => {
    const input = intentFor();
    const created = await stripe.createPaymentIntent(input);
    await fakes.stripe.succeed(created.id);
    const refund = {
      idempotencyKey: `refund:${input.paymentId}:v1`,
      paymentIntentId: created.id,
      reason: 'requested_by_customer' as const,
      paymentId: input.paymentId,
    };
    const first = await stripe.createRefund(refund);
    const replay = await stripe.createRefund(refund);
    expect(replay.id).toBe(first.id);
    expect(first).toMatchObject({ status: 'succeeded', amountCents: 5000, paymentIntentId: created.id });
    expect(fakes.stripe.refunds(created.id)).toHaveLength(1);

    const again = await failure(
      stripe.createRefund({ ...refund, idempotencyKey: `refund:${input.paymentId}:v2` }),
    );
    expect(again).toMatchObject({ classification: 'permanent', providerCode: 'charge_already_refunded' });
  });

  it('finds every PaymentIntent of one payment by metadata, across key versions', async () => {
    const paymentId = randomUUID();
    await stripe.createPaymentIntent(intentFor(paymentId, 1));
    await stripe.createPaymentIntent(intentFor(paymentId, 2));
    await stripe.createPaymentIntent(intentFor());
    const found = await stripe.findPaymentIntents(paymentId);
    expect(found).toHaveLength(2);
    expect(found.every((intent) => intent.paymentId === paymentId)).toBe(true);
    expect(await stripe.findPaymentIntents(randomUUID())).toEqual([]);
  });
});

describe('configuration', () => {
  it('takes a base URL without a path, since the SDK has no path prefix', () => {
    expect(
      () => new StripeClient({ secretKey: SECRET_KEY, apiBase: 'http://127.0.0.1:1/v1', timeoutMs: 1 }),
    ).toThrow(RangeError);
  });
});
