// WhatsApp Cloud API (Meta): `X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 of the raw body with
// the App Secret. Meta signs its own serialisation (unicode escaped as \uXXXX), so re-serialising
// the parsed JSON would not match: only the bytes as received are hashed.
// One POST batches many updates; each message and each status is its own event.
import { randomBytes } from 'node:crypto';
import { Type } from 'typebox';
import { whatsappInbound, whatsappStatus } from '../handlers/whatsapp.js';
import {
  anySecretMatches,
  constantTimeEqual,
  headerValue,
  hmac,
  isPlainObject,
  probeId,
  readJsonObject,
  unixNow,
} from './crypto.js';
import {
  type Handshake,
  MalformedWebhookError,
  type ProviderEvent,
  type RawWebhookRequest,
  type SignedProbe,
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
  // The same app secret signs Meta's other products (Instagram, Pages): only WhatsApp Business
  // Account notifications are ours. Anything else is verified, answered 200 and left unstored.
  if (body.object !== 'whatsapp_business_account') return [];
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

/** A delivery status for a wamid Carebook never sent: the handler finds no such message. */
function probe(secret: string): SignedProbe {
  const body = JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '0',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { phone_number_id: '0' },
              statuses: [
                {
                  id: `wamid.carebook-secret-check-${probeId()}`,
                  status: 'delivered',
                  timestamp: String(unixNow()),
                },
              ],
            },
          },
        ],
      },
    ],
  });
  return {
    headers: {
      'content-type': 'application/json',
      [SIGNATURE_HEADER]: `sha256=${hmac('sha256', secret, body, 'hex')}`,
    },
    body,
  };
}

/**
 * Meta's subscription check: `GET …?hub.mode=subscribe&hub.verify_token=<t>&hub.challenge=<c>`,
 * answered with the challenge when the token is ours. It stores nothing.
 */
const handshake: Handshake = {
  token: {
    name: 'WHATSAPP_VERIFY_TOKEN',
    description:
      'Token Meta sends in the subscription handshake (`GET /webhooks/whatsapp`); `_<NAME>` suffix matches `WHATSAPP_APP_SECRET_<NAME>`.',
  },
  query: Type.Object({
    'hub.mode': Type.Optional(Type.String({ maxLength: 32, description: 'Meta sends `subscribe`.' })),
    'hub.verify_token': Type.Optional(
      Type.String({ maxLength: 1000, description: 'Compared with WHATSAPP_VERIFY_TOKEN[_<NAME>].' }),
    ),
    'hub.challenge': Type.Optional(Type.String({ maxLength: 1000, description: 'Echoed back on success.' })),
  }),
  summary: 'subscription handshake (answers hub.challenge)',
  description: "Meta's check when a webhook is subscribed",
  answer(query, tokens) {
    const token = query['hub.verify_token'] ?? '';
    const matches = tokens.some((candidate) => constantTimeEqual(candidate, token));
    return query['hub.mode'] === 'subscribe' && matches ? (query['hub.challenge'] ?? '') : null;
  },
  probe(token) {
    const challenge = String(randomBytes(4).readUInt32BE());
    return {
      query: { 'hub.mode': 'subscribe', 'hub.verify_token': token, 'hub.challenge': challenge },
      expect: challenge,
    };
  },
};

export const whatsapp: WebhookProvider = {
  name: 'whatsapp',
  title: 'WhatsApp',
  secret: {
    name: 'WHATSAPP_APP_SECRET',
    description:
      'Meta App Secret(s) for `X-Hub-Signature-256`; comma-separated during a rotation; `_<NAME>` suffix for further accounts.',
  },
  defaultIntegrationId: '00000000-0000-4000-8000-000000000003',
  signedHeaders: [SIGNATURE_HEADER],
  verify,
  parse,
  handshake,
  probe,
  handlers: { 'message.status': whatsappStatus, 'message.inbound': whatsappInbound },
};
