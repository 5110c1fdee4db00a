// WhatsApp Cloud API (Meta): `X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 of the raw body with
// the App Secret. Meta signs its own serialisation (unicode escaped as \uXXXX), so re-serialising
// the parsed JSON would not match: only the bytes as received are hashed.
// One POST batches many updates; each message and each status is its own event.
import { anySecretMatches, headerValue, hmac, isPlainObject, readJsonObject } from './crypto.js';
import {
  MalformedWebhookError,
  type ProviderEvent,
  type RawWebhookRequest,
  type Verification,
  type VerifyOptions,
  type WebhookProvider,
} from './types.js';

const SIGNATURE_HEADER = 'x-hub-signature-256';
const SIGNATURE_FORMAT = /^sha256=([0-9a-fA-F]+)$/;

function verify(request: RawWebhookRequest, options: VerifyOptions): Verification {
  const header = headerValue(request, SIGNATURE_HEADER);
  if (header === undefined) return { ok: false, reason: 'missing_signature' };
  const received = SIGNATURE_FORMAT.exec(header)?.[1];
  if (received === undefined) return { ok: false, reason: 'malformed_signature' };
  const matched = anySecretMatches(
    options.secrets,
    (secret) => [hmac('sha256', secret, request.body, 'hex')],
    [received.toLowerCase()],
  );
  return matched ? { ok: true } : { ok: false, reason: 'bad_signature' };
}

function arrayField(object: Record<string, unknown>, field: string): unknown[] {
  const value = object[field];
  return Array.isArray(value) ? value : [];
}

function itemString(item: Record<string, unknown>, field: string, kind: string): string {
  const value = item[field];
  if (typeof value !== 'string' || value === '') {
    throw new MalformedWebhookError(`WhatsApp ${kind} has no ${field}`);
  }
  return value;
}

/**
 * The item is nested (`message` / `status`) rather than spread, because a message of type
 * "contacts" has its own `contacts` field that the change's `contacts` would overwrite.
 */
function eventsOfChange(value: Record<string, unknown>): ProviderEvent[] {
  const context = { metadata: value.metadata ?? null, contacts: value.contacts ?? [] };
  const events: ProviderEvent[] = [];
  for (const message of arrayField(value, 'messages')) {
    if (!isPlainObject(message)) throw new MalformedWebhookError('WhatsApp message is not an object');
    events.push({
      eventId: itemString(message, 'id', 'message'),
      eventType: 'message.inbound',
      payload: { message, ...context },
      idempotencyKey: null,
    });
  }
  for (const status of arrayField(value, 'statuses')) {
    if (!isPlainObject(status)) throw new MalformedWebhookError('WhatsApp status is not an object');
    // Dedup per (message, status): "sent", "delivered" and "read" of one message are three events.
    events.push({
      eventId: `${itemString(status, 'id', 'status')}:${itemString(status, 'status', 'status')}`,
      eventType: 'message.status',
      payload: { status, ...context },
      idempotencyKey: null,
    });
  }
  return events;
}

function parse(request: RawWebhookRequest): ProviderEvent[] {
  const body = readJsonObject(request.body, 'WhatsApp');
  if (!Array.isArray(body.entry)) throw new MalformedWebhookError('WhatsApp body has no entry list');
  const events: ProviderEvent[] = [];
  for (const entry of body.entry) {
    if (!isPlainObject(entry)) continue;
    for (const change of arrayField(entry, 'changes')) {
      // Other fields (account_update, message_template_status_update, …) are not ours to handle.
      if (!isPlainObject(change) || change.field !== 'messages' || !isPlainObject(change.value)) continue;
      events.push(...eventsOfChange(change.value));
    }
  }
  return events;
}

export const whatsapp: WebhookProvider = {
  name: 'whatsapp',
  signedHeaders: [SIGNATURE_HEADER],
  verify,
  parse,
};
