// Stripe: `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…][,v0=…]`, HMAC-SHA256 of
// `${t}.${rawBody}` keyed with the whole `whsec_…` string (UTF-8, not base64-decoded). Several v1
// entries appear while Stripe rolls the endpoint secret; one match is enough. v0 and any other
// scheme are ignored, as stripe-node's Webhooks.signature.verifyHeader does.
import { chargeRefunded, paymentIntentFailed, paymentIntentSucceeded } from '../handlers/stripe.js';
import {
  anySecretMatches,
  headerValue,
  hmac,
  isFresh,
  probeId,
  readJsonObject,
  requireString,
  unixNow,
} from './crypto.js';
import type {
  ProviderEvent,
  RawWebhookRequest,
  SignedProbe,
  Verification,
  VerifyOptions,
  WebhookProvider,
} from './types.js';

const SIGNATURE_HEADER = 'stripe-signature';

interface StripeSignatureHeader {
  timestamp: string;
  signatures: string[];
}

/** Like stripe-node's parseHeader: `key=value` pairs; a repeated `t` keeps the last one. */
function parseSignatureHeader(header: string): StripeSignatureHeader | null {
  let timestamp: string | undefined;
  const signatures: string[] = [];
  for (const item of header.split(',')) {
    const separator = item.indexOf('=');
    if (separator < 0) continue;
    const key = item.slice(0, separator).trim();
    const value = item.slice(separator + 1).trim();
    if (key === 't') timestamp = value;
    if (key === 'v1') signatures.push(value);
  }
  // The signed string carries `t` exactly as sent, so only plain digits are accepted.
  if (timestamp === undefined || !/^\d+$/.test(timestamp) || signatures.length === 0) return null;
  return { timestamp, signatures };
}

function verify(request: RawWebhookRequest, options: VerifyOptions): Verification {
  const header = headerValue(request, SIGNATURE_HEADER);
  if (header === undefined) return { ok: false, reason: 'missing_signature' };
  const parsed = parseSignatureHeader(header);
  if (parsed === null) return { ok: false, reason: 'malformed_signature' };

  // Raw bytes, never a re-serialisation: Stripe signs exactly what it sent.
  const signed = Buffer.concat([Buffer.from(`${parsed.timestamp}.`, 'utf8'), request.body]);
  const matched = anySecretMatches(
    options.secrets,
    (secret) => [hmac('sha256', secret, signed, 'hex')],
    parsed.signatures,
  );
  if (!matched) return { ok: false, reason: 'bad_signature' };
  // Signature first, then age (stripe-node's order): a forged request is reported as forged.
  if (!isFresh(Number(parsed.timestamp), options)) return { ok: false, reason: 'stale_timestamp' };
  return { ok: true };
}

function parse(request: RawWebhookRequest): ProviderEvent[] {
  const envelope = readJsonObject(request.body, 'Stripe');
  const eventId = requireString(envelope, 'id', 'Stripe');
  const eventType = requireString(envelope, 'type', 'Stripe');
  // `request.idempotency_key` is set when the event came from an API call made with one; every
  // retry of that call then shares it.
  const origin = envelope.request;
  const idempotencyKey =
    typeof origin === 'object' &&
    origin !== null &&
    'idempotency_key' in origin &&
    typeof origin.idempotency_key === 'string'
      ? origin.idempotency_key
      : null;
  return [{ eventId, eventType, payload: envelope, idempotencyKey }];
}

/** An event of type carebook.secret_check, which no handler takes: the worker notes it ignored. */
function probe(secret: string): SignedProbe {
  const id = `evt_carebook_secret_check_${probeId()}`;
  const t = unixNow();
  const body = JSON.stringify({
    id,
    object: 'event',
    type: 'carebook.secret_check',
    created: t,
    livemode: false,
    data: { object: { id, object: 'carebook.secret_check' } },
  });
  const signature = hmac('sha256', secret, `${t}.${body}`, 'hex');
  return {
    headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: `t=${t},v1=${signature}` },
    body,
  };
}

export const stripe: WebhookProvider = {
  name: 'stripe',
  title: 'Stripe',
  secret: {
    name: 'STRIPE_WEBHOOK_SECRET',
    description:
      'Stripe endpoint signing secret(s) `whsec_…`, comma-separated during a rotation. `STRIPE_WEBHOOK_SECRET_<NAME>` for further accounts (integrations.secret_ref).',
  },
  defaultIntegrationId: '00000000-0000-4000-8000-000000000001',
  signedHeaders: [SIGNATURE_HEADER],
  verify,
  parse,
  probe,
  handlers: {
    'payment_intent.succeeded': paymentIntentSucceeded,
    'payment_intent.payment_failed': paymentIntentFailed,
    'charge.refunded': chargeRefunded,
  },
};
