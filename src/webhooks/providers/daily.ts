// Daily: `X-Webhook-Signature` = base64 HMAC-SHA256 over `${X-Webhook-Timestamp}.${rawBody}`,
// keyed with the webhook's `hmac` secret base64-DECODED to bytes. Daily documents no SDK for this;
// the scheme follows providers.md and keeps to this one file so that it is easy to correct against
// a live delivery. The timestamp is signed exactly as received (seconds or milliseconds) and only
// normalised for the freshness check.
import { meetingEnded, meetingStarted } from '../handlers/daily.js';
import {
  anySecretMatches,
  headerValue,
  hmac,
  isFresh,
  isPlainObject,
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

const SIGNATURE_HEADER = 'x-webhook-signature';
const TIMESTAMP_HEADER = 'x-webhook-timestamp';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const TIMESTAMP = /^\d+(\.\d+)?$/;
/** Above this a timestamp is in milliseconds (1e12 s is the year 33658; 1e12 ms is 2001). */
const MILLISECONDS_FROM = 1e12;

function timestampSeconds(raw: string): number {
  const value = Number(raw);
  return value >= MILLISECONDS_FROM ? value / 1000 : value;
}

function verify(request: RawWebhookRequest, options: VerifyOptions): Verification {
  const signature = headerValue(request, SIGNATURE_HEADER);
  if (signature === undefined) return { ok: false, reason: 'missing_signature' };
  const timestamp = headerValue(request, TIMESTAMP_HEADER);
  if (timestamp === undefined || !TIMESTAMP.test(timestamp) || !BASE64.test(signature)) {
    return { ok: false, reason: 'malformed_signature' };
  }

  const signed = Buffer.concat([Buffer.from(`${timestamp}.`, 'utf8'), request.body]);
  // A secret that decodes to no bytes is a configuration mistake; it must not act as an empty key.
  const keys = options.secrets.filter((secret) => Buffer.from(secret, 'base64').length > 0);
  const matched = anySecretMatches(
    keys,
    (secret) => [hmac('sha256', Buffer.from(secret, 'base64'), signed, 'base64')],
    [signature],
  );
  if (!matched) return { ok: false, reason: 'bad_signature' };
  if (!isFresh(timestampSeconds(timestamp), options)) return { ok: false, reason: 'stale_timestamp' };
  return { ok: true };
}

function parse(request: RawWebhookRequest): ProviderEvent[] {
  const envelope = readJsonObject(request.body, 'Daily');
  const eventId = requireString(envelope, 'id', 'Daily');
  const eventType = requireString(envelope, 'type', 'Daily');
  return [{ eventId, eventType, payload: envelope, idempotencyKey: null }];
}

/**
 * Daily's endpoint check. Creating or updating a webhook (POST /webhooks, POST /webhooks/:uuid)
 * makes Daily POST a test body and refuse the webhook unless the answer is a quick 200; the REST
 * docs ("Before creating your webhook, we perform a verification check…") show the body as
 * `{"test":"test"}`. When Daily provisions the `hmac` itself, the secret is only returned after
 * that check succeeded, so the ping cannot be expected to carry a signature we can verify: it is
 * recognised by its body alone. Kept narrow: a JSON object whose only key is `test`, with the
 * value "test". Nothing real has that shape (events carry id, type, payload), and the ping is
 * answered without any side effect, so an unsigned one gains a caller nothing but a 200.
 */
function isTestPing(request: RawWebhookRequest): boolean {
  let body: unknown;
  try {
    body = JSON.parse(request.body.toString('utf8'));
  } catch {
    return false;
  }
  if (!isPlainObject(body)) return false;
  const keys = Object.keys(body);
  return keys.length === 1 && keys[0] === 'test' && body.test === 'test';
}

/** An event of type carebook.secret_check, which no handler takes: the worker notes it ignored. */
function probe(secret: string): SignedProbe {
  const t = String(unixNow());
  const body = JSON.stringify({
    version: '1.0.0',
    type: 'carebook.secret_check',
    id: `carebook-secret-check-${probeId()}`,
    payload: {},
    event_ts: Number(t),
  });
  return {
    headers: {
      'content-type': 'application/json',
      [TIMESTAMP_HEADER]: t,
      [SIGNATURE_HEADER]: hmac('sha256', Buffer.from(secret, 'base64'), `${t}.${body}`, 'base64'),
    },
    body,
  };
}

export const daily: WebhookProvider = {
  name: 'daily',
  title: 'Daily',
  secret: {
    name: 'DAILY_WEBHOOK_SECRET',
    description:
      'Daily webhook `hmac` secret(s) (base64); comma-separated during a rotation; `_<NAME>` suffix for further accounts.',
  },
  defaultIntegrationId: '00000000-0000-4000-8000-000000000004',
  signedHeaders: [SIGNATURE_HEADER, TIMESTAMP_HEADER],
  verify,
  parse,
  isTestPing,
  probe,
  handlers: { 'meeting.started': meetingStarted, 'meeting.ended': meetingEnded },
};
