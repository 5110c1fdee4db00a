// A stateful fake of Stripe's API v1 for PaymentIntents and refunds: form-encoded bodies, Bearer
// secret-key auth, and Stripe's idempotency layer (research/outbound.md §1): the first answer to a
// key is stored and replayed, a 500 included; a key still in flight answers 409
// idempotency_key_in_use; the same key with other parameters answers 400 idempotency_error;
// validation failures, 401s and 429s store nothing.
import type { FastifyRequest } from 'fastify';
import { createFake, deliverWebhook, type FakeServer, type Reply, type Steps } from './server.js';
import { signStripe } from './signing.js';
import {
  type FakePaymentIntent,
  type FakeRefund,
  StripeState,
  stripeError,
  stripeId,
} from './stripe-state.js';

export type StripeEndpoint =
  | 'POST /v1/payment_intents'
  | 'GET /v1/payment_intents'
  | 'GET /v1/payment_intents/search'
  | 'GET /v1/payment_intents/:id'
  | 'POST /v1/payment_intents/:id/cancel'
  | 'POST /v1/refunds'
  | 'GET /v1/refunds/:id';

export interface StripeFakeOptions {
  /** The key clients must send as `Authorization: Bearer …`. */
  secretKey: string;
}

export interface StripeFake extends FakeServer<StripeEndpoint> {
  /** PaymentIntents in creation order; with a payment id, those whose metadata names it. */
  paymentIntents(paymentId?: string): FakePaymentIntent[];
  refunds(paymentIntentId?: string): FakeRefund[];
  /**
   * As if the customer paid. With `webhook`, also POSTs a `payment_intent.succeeded` event signed
   * with that endpoint secret, and returns the receiver's status.
   */
  succeed(
    paymentIntentId: string,
    webhook?: { url: string; secret: string },
  ): Promise<{ intent: FakePaymentIntent; delivery: number | null }>;
}

const SHOULD_RETRY = 'stripe-should-retry';

interface StoredKey {
  fingerprint: string;
  /** Unset while the first request with this key is still running. */
  reply?: Reply;
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
  );
}

type Params = Record<string, unknown>;
const paramsOf = (value: unknown): Params =>
  typeof value === 'object' && value !== null ? (value as Params) : {};

export async function startStripeFake(options: StripeFakeOptions): Promise<StripeFake> {
  const state = new StripeState();
  const keys = new Map<string, StoredKey>();
  const fake = createFake<StripeEndpoint>({
    rateLimited: (retryAfterSeconds) =>
      stripeError(
        429,
        { code: 'rate_limit', message: 'Too many requests hit the API too quickly.' },
        {
          [SHOULD_RETRY]: 'true',
          ...(retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) }),
        },
      ),
    rejected: (code) => {
      if (code === 'lock_timeout') {
        return stripeError(
          429,
          { code, message: 'This object cannot be accessed right now.' },
          { [SHOULD_RETRY]: 'true' },
        );
      }
      if (code === 'api_error')
        return stripeError(500, { type: 'api_error', message: 'An unknown error occurred.' });
      if (code === 'card_declined')
        return stripeError(402, { type: 'card_error', code, message: 'Declined.' });
      return stripeError(400, { code: String(code), message: `Rejected by the fake: ${code}` });
    },
    // Stripe marks a 500 it will replay for this key as not worth retrying under the same key.
    serverError: () =>
      stripeError(
        500,
        { type: 'api_error', message: 'An unknown error occurred.' },
        { [SHOULD_RETRY]: 'false' },
      ),
  });
  const { app } = fake;

  app.addHook('preHandler', async (request, reply) => {
    if (request.headers.authorization !== `Bearer ${options.secretKey}`) {
      // Like Stripe, never echo the key that was sent.
      return reply
        .code(401)
        .send({ error: { type: 'invalid_request_error', message: 'Invalid API Key provided.' } });
    }
  });

  /** Wraps a write in Stripe's idempotency layer when it carries an Idempotency-Key. */
  function idempotent(request: FastifyRequest, work: () => Reply): Steps {
    const key = request.headers['idempotency-key'];
    if (typeof key !== 'string' || key === '') return { work };
    const fingerprint = JSON.stringify([request.method, request.url.split('?')[0], canonical(request.body)]);
    return {
      admit: () => {
        const stored = keys.get(key);
        if (stored === undefined) {
          keys.set(key, { fingerprint });
          return undefined;
        }
        if (stored.fingerprint !== fingerprint) {
          return stripeError(400, {
            type: 'idempotency_error',
            message:
              'Keys for idempotent requests can only be used with the same parameters they were first used with.',
          });
        }
        if (stored.reply === undefined) {
          return stripeError(409, {
            code: 'idempotency_key_in_use',
            message: 'There is currently another in-progress request using this idempotency key.',
          });
        }
        return { ...stored.reply, headers: { ...stored.reply.headers, 'idempotent-replayed': 'true' } };
      },
      work,
      settled: (reply) => {
        if (reply.validation) keys.delete(key);
        else keys.set(key, { fingerprint, reply });
      },
      abandoned: () => keys.delete(key),
    };
  }

  const id = (request: FastifyRequest) => (request.params as { id: string }).id;

  app.post('/v1/payment_intents', (request, reply) =>
    fake.perform(
      request,
      reply,
      idempotent(request, () => state.createIntent(paramsOf(request.body))),
    ),
  );
  app.get('/v1/payment_intents', (request, reply) =>
    fake.perform(request, reply, { work: () => state.listIntents(paramsOf(request.query)) }),
  );
  app.get('/v1/payment_intents/search', (request, reply) =>
    fake.perform(request, reply, { work: () => state.searchIntents(paramsOf(request.query)) }),
  );
  app.get('/v1/payment_intents/:id', (request, reply) =>
    fake.perform(request, reply, { work: () => state.retrieveIntent(id(request)) }),
  );
  app.post('/v1/payment_intents/:id/cancel', (request, reply) =>
    fake.perform(
      request,
      reply,
      idempotent(request, () => state.cancelIntent(id(request), paramsOf(request.body))),
    ),
  );
  app.post('/v1/refunds', (request, reply) =>
    fake.perform(
      request,
      reply,
      idempotent(request, () => state.createRefund(paramsOf(request.body))),
    ),
  );
  app.get('/v1/refunds/:id', (request, reply) =>
    fake.perform(request, reply, { work: () => state.retrieveRefund(id(request)) }),
  );

  const server = await fake.listen();
  return {
    ...server,
    paymentIntents: (paymentId) =>
      [...state.intents.values()].filter(
        (intent) => paymentId === undefined || intent.metadata.carebook_payment_id === paymentId,
      ),
    refunds: (paymentIntentId) =>
      [...state.refunds.values()].filter(
        (refund) => paymentIntentId === undefined || refund.payment_intent === paymentIntentId,
      ),
    succeed: async (paymentIntentId, webhook) => {
      const intent = state.succeed(paymentIntentId);
      if (webhook === undefined) return { intent, delivery: null };
      const created = Math.floor(Date.now() / 1000);
      // The event leaves the client_secret out: nothing that receives events needs it.
      const { client_secret: _secret, ...object } = intent;
      const body = JSON.stringify({
        id: stripeId('evt'),
        object: 'event',
        type: 'payment_intent.succeeded',
        created,
        livemode: false,
        data: { object },
        request: { id: null, idempotency_key: null },
      });
      const delivery = await deliverWebhook(webhook.url, body, {
        'content-type': 'application/json',
        'stripe-signature': signStripe(body, webhook.secret, created),
      });
      return { intent, delivery };
    },
  };
}
