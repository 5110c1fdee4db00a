// The fake Stripe's objects: PaymentIntents and refunds with Stripe's statuses, state errors, list
// and search. Every method answers with the Reply the real API would send; the HTTP layer
// (stripe.ts) adds auth, idempotency and faults around it.
import { randomBytes } from 'node:crypto';
import type { Reply } from './server.js';

export interface FakePaymentIntent {
  id: string;
  object: 'payment_intent';
  amount: number;
  amount_received: number;
  currency: string;
  status: 'requires_payment_method' | 'succeeded' | 'canceled';
  client_secret: string;
  metadata: Record<string, string>;
  capture_method: 'automatic';
  cancellation_reason: string | null;
  canceled_at: number | null;
  latest_charge: string | null;
  created: number;
  livemode: false;
}

export interface FakeRefund {
  id: string;
  object: 'refund';
  amount: number;
  currency: string;
  payment_intent: string;
  status: 'succeeded';
  reason: string | null;
  metadata: Record<string, string>;
  created: number;
}

type Params = Record<string, unknown>;

// Stripe allows a cancel only from these (research/outbound.md §1).
const CANCELABLE = new Set([
  'requires_payment_method',
  'requires_capture',
  'requires_confirmation',
  'requires_action',
]);
const CANCELLATION_REASONS = new Set(['duplicate', 'fraudulent', 'requested_by_customer', 'abandoned']);
const REFUND_REASONS = new Set(['duplicate', 'fraudulent', 'requested_by_customer']);

export function stripeId(prefix: string): string {
  return `${prefix}_${randomBytes(18).toString('base64url').replace(/[-_]/g, 'x').slice(0, 24)}`;
}

export function stripeError(
  status: number,
  error: Record<string, unknown>,
  headers?: Record<string, string>,
): Reply {
  return { status, body: { error: { type: 'invalid_request_error', ...error } }, headers };
}

function invalidParam(param: string, message: string): Reply {
  return { ...stripeError(400, { param, message, code: 'parameter_invalid' }), validation: true };
}

function missing(kind: string, id: string, param?: string): Reply {
  return stripeError(param ? 400 : 404, {
    code: 'resource_missing',
    message: `No such ${kind}: '${id}'`,
    param,
  });
}

const now = () => Math.floor(Date.now() / 1000);

/** Metadata as Stripe accepts it: at most 50 keys, keys ≤ 40 and values ≤ 500 characters. */
function readMetadata(value: unknown): Record<string, string> | Reply {
  if (value === undefined || value === '') return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return invalidParam('metadata', 'Invalid object');
  }
  const entries = Object.entries(value);
  if (entries.length > 50) return invalidParam('metadata', 'At most 50 keys');
  const metadata: Record<string, string> = {};
  for (const [key, item] of entries) {
    if (typeof item !== 'string' || key.length > 40 || item.length > 500) {
      return invalidParam(`metadata[${key}]`, 'Keys are at most 40 and values at most 500 characters');
    }
    metadata[key] = item;
  }
  return metadata;
}

function readAmount(value: unknown, param: string): number | Reply {
  if (typeof value !== 'string' || !/^\d+$/.test(value) || Number(value) < 1) {
    return invalidParam(param, 'This value must be a positive integer.');
  }
  return Number(value);
}

const isReply = (value: unknown): value is Reply =>
  typeof value === 'object' && value !== null && 'status' in value && 'body' in value;

/** One clause of Stripe's search language that we support: `metadata['k']:'v'` or `status:'v'`. */
function parseSearch(query: string): Array<(intent: FakePaymentIntent) => boolean> | null {
  const matchers: Array<(intent: FakePaymentIntent) => boolean> = [];
  for (const clause of query.split(/\s+AND\s+/)) {
    const parsed = /^(?:metadata\['([^']+)'\]|(status)):'((?:[^'\\]|\\.)*)'$/.exec(clause.trim());
    if (parsed === null) return null;
    const [, key, status, raw] = parsed;
    const value = raw!.replace(/\\(.)/g, '$1');
    matchers.push(status ? (intent) => intent.status === value : (intent) => intent.metadata[key!] === value);
  }
  return matchers;
}

export class StripeState {
  readonly intents = new Map<string, FakePaymentIntent>();
  readonly refunds = new Map<string, FakeRefund>();

  createIntent(params: Params): Reply {
    const amount = readAmount(params.amount, 'amount');
    if (isReply(amount)) return amount;
    if (typeof params.currency !== 'string' || !/^[a-zA-Z]{3}$/.test(params.currency)) {
      return invalidParam('currency', 'Invalid currency');
    }
    const metadata = readMetadata(params.metadata);
    if (isReply(metadata)) return metadata;
    const id = stripeId('pi');
    const intent: FakePaymentIntent = {
      id,
      object: 'payment_intent',
      amount,
      amount_received: 0,
      currency: params.currency.toLowerCase(),
      status: 'requires_payment_method',
      client_secret: `${id}_secret_${randomBytes(12).toString('hex')}`,
      metadata,
      capture_method: 'automatic',
      cancellation_reason: null,
      canceled_at: null,
      latest_charge: null,
      created: now(),
      livemode: false,
    };
    this.intents.set(id, intent);
    return { status: 200, body: intent };
  }

  retrieveIntent(id: string): Reply {
    const intent = this.intents.get(id);
    return intent ? { status: 200, body: intent } : missing('payment_intent', id);
  }

  cancelIntent(id: string, params: Params): Reply {
    const intent = this.intents.get(id);
    if (!intent) return missing('payment_intent', id);
    const reason = params.cancellation_reason;
    if (reason !== undefined && (typeof reason !== 'string' || !CANCELLATION_REASONS.has(reason))) {
      return invalidParam('cancellation_reason', 'Invalid cancellation_reason');
    }
    if (!CANCELABLE.has(intent.status)) {
      return stripeError(400, {
        code: 'payment_intent_unexpected_state',
        message: `You cannot cancel this PaymentIntent because it has a status of ${intent.status}.`,
        payment_intent: intent,
      });
    }
    intent.status = 'canceled';
    intent.cancellation_reason = typeof reason === 'string' ? reason : null;
    intent.canceled_at = now();
    return { status: 200, body: intent };
  }

  /** Newest first, like Stripe; `limit`, `starting_after` and `created[gte|gt|lte|lt]`. */
  listIntents(query: Params): Reply {
    const limit = query.limit === undefined ? 10 : Number(query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) return invalidParam('limit', 'limit is 1-100');
    let intents = [...this.intents.values()].reverse();
    const created =
      typeof query.created === 'object' && query.created !== null ? (query.created as Params) : {};
    const bound = (name: string) => (created[name] === undefined ? null : Number(created[name]));
    const [gte, gt, lte, lt] = ['gte', 'gt', 'lte', 'lt'].map(bound);
    intents = intents.filter(
      (intent) =>
        (gte === null || intent.created >= gte!) &&
        (gt === null || intent.created > gt!) &&
        (lte === null || intent.created <= lte!) &&
        (lt === null || intent.created < lt!),
    );
    if (typeof query.starting_after === 'string') {
      const index = intents.findIndex((intent) => intent.id === query.starting_after);
      if (index < 0) return missing('payment_intent', query.starting_after, 'starting_after');
      intents = intents.slice(index + 1);
    }
    const data = intents.slice(0, limit);
    return {
      status: 200,
      body: { object: 'list', data, has_more: intents.length > limit, url: '/v1/payment_intents' },
    };
  }

  /** Search (strongly consistent here; Stripe's trails writes by up to a minute). */
  searchIntents(query: Params): Reply {
    if (typeof query.query !== 'string') return invalidParam('query', 'Missing required param: query.');
    const matchers = parseSearch(query.query);
    if (matchers === null) return invalidParam('query', 'Unsupported search query');
    const limit = query.limit === undefined ? 10 : Number(query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) return invalidParam('limit', 'limit is 1-100');
    const offset =
      typeof query.page === 'string' ? Number(Buffer.from(query.page, 'base64url').toString()) : 0;
    const all = [...this.intents.values()]
      .reverse()
      .filter((intent) => matchers.every((match) => match(intent)));
    const data = all.slice(offset, offset + limit);
    const hasMore = all.length > offset + limit;
    return {
      status: 200,
      body: {
        object: 'search_result',
        data,
        has_more: hasMore,
        next_page: hasMore ? Buffer.from(String(offset + limit)).toString('base64url') : null,
        url: '/v1/payment_intents/search',
      },
    };
  }

  createRefund(params: Params): Reply {
    const intentId = params.payment_intent;
    if (typeof intentId !== 'string')
      return invalidParam('payment_intent', 'Missing required param: payment_intent.');
    const intent = this.intents.get(intentId);
    if (!intent) return missing('payment_intent', intentId, 'payment_intent');
    const reason = params.reason;
    if (reason !== undefined && (typeof reason !== 'string' || !REFUND_REASONS.has(reason))) {
      return invalidParam('reason', 'Invalid reason');
    }
    const metadata = readMetadata(params.metadata);
    if (isReply(metadata)) return metadata;
    if (intent.status !== 'succeeded') {
      return stripeError(400, {
        code: 'payment_intent_unexpected_state',
        message: `This PaymentIntent has a status of ${intent.status} and has no successful charge to refund.`,
      });
    }
    const refunded = [...this.refunds.values()]
      .filter((refund) => refund.payment_intent === intentId)
      .reduce((sum, refund) => sum + refund.amount, 0);
    const remaining = intent.amount_received - refunded;
    const amount = params.amount === undefined ? remaining : readAmount(params.amount, 'amount');
    if (isReply(amount)) return amount;
    if (remaining === 0) {
      return stripeError(400, {
        code: 'charge_already_refunded',
        message: 'This charge has already been refunded.',
      });
    }
    if (amount > remaining) {
      return stripeError(400, {
        code: 'amount_too_large',
        message: 'Refund amount is greater than unrefunded amount.',
      });
    }
    const refund: FakeRefund = {
      id: stripeId('re'),
      object: 'refund',
      amount,
      currency: intent.currency,
      payment_intent: intentId,
      status: 'succeeded',
      reason: typeof reason === 'string' ? reason : null,
      metadata,
      created: now(),
    };
    this.refunds.set(refund.id, refund);
    return { status: 200, body: refund };
  }

  retrieveRefund(id: string): Reply {
    const refund = this.refunds.get(id);
    return refund ? { status: 200, body: refund } : missing('refund', id);
  }

  /** As if the customer paid: the test hook behind `payment_intent.succeeded`. */
  succeed(id: string): FakePaymentIntent {
    const intent = this.intents.get(id);
    if (!intent) throw new Error(`fake Stripe has no PaymentIntent ${id}`);
    if (intent.status !== 'requires_payment_method')
      throw new Error(`PaymentIntent ${id} is ${intent.status}`);
    intent.status = 'succeeded';
    intent.amount_received = intent.amount;
    intent.latest_charge = stripeId('ch');
    return intent;
  }
}
