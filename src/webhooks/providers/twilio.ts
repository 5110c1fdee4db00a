// Twilio: `X-Twilio-Signature` = base64 HMAC-SHA1 keyed with the Auth Token.
// - Form posts: over the full URL Twilio called followed by every POST parameter sorted by name,
//   each appended as name + value. The parameters are the decoded form fields, so for this one
//   scheme "the raw bytes" are the URL plus the body's fields; nothing is trusted before the match.
// - JSON posts: the URL carries `?bodySHA256=<hex sha256 of the raw body>`; the signature covers
//   the URL alone and the body must hash to that value.
// Mirrors twilio-node's webhooks.ts (validateRequest / validateRequestWithBody).
import { createHash } from 'node:crypto';
import { Type } from 'typebox';
import { twilioInbound, twilioStatus } from '../handlers/twilio.js';
import { anySecretMatches, constantTimeEqual, headerValue, hmac, probeId, readJsonObject } from './crypto.js';
import {
  MalformedWebhookError,
  type ProviderEvent,
  type RawWebhookRequest,
  type SignedProbe,
  type Verification,
  type VerifyOptions,
  type WebhookProvider,
} from './types.js';

const SIGNATURE_HEADER = 'x-twilio-signature';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Names sorted in byte order, each followed by its values. A name sent several times contributes
 * each distinct value once, values sorted: twilio-node (`Array.from(new Set(values)).sort()`) and
 * twilio-python (`sorted(set(values))`) both do this.
 */
function twilioParameterString(params: URLSearchParams): string {
  const names = [...new Set(params.keys())].sort(byteOrder);
  let out = '';
  for (const name of names) {
    for (const value of [...new Set(params.getAll(name))].sort(byteOrder)) out += name + value;
  }
  return out;
}

/**
 * Twilio has signed with and without the default port (":443" / ":80"), so twilio-node accepts
 * both; we do too, plus the URL exactly as configured in case WHATWG normalisation re-encodes it.
 */
function urlVariants(url: string): string[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [url];
  }
  const withoutPort = new URL(parsed.href);
  withoutPort.port = '';
  let withPort = parsed.href;
  if (parsed.port === '') {
    const defaultPort = parsed.protocol === 'https:' ? '443' : '80';
    const userinfo = parsed.username
      ? `${parsed.username}${parsed.password ? `:${parsed.password}` : ''}@`
      : '';
    withPort = `${parsed.protocol}//${userinfo}${parsed.host}:${defaultPort}${parsed.pathname}${parsed.search}${parsed.hash}`;
  }
  return [...new Set([url, parsed.href, withPort, withoutPort.href])];
}

/** The `bodySHA256` query value when the URL marks a JSON post, else null (a form post). */
function bodyHashParam(url: string): string | null {
  try {
    return new URL(url).searchParams.get('bodySHA256');
  } catch {
    return null;
  }
}

function verify(request: RawWebhookRequest, options: VerifyOptions): Verification {
  const signature = headerValue(request, SIGNATURE_HEADER);
  if (signature === undefined) return { ok: false, reason: 'missing_signature' };
  if (!BASE64.test(signature)) return { ok: false, reason: 'malformed_signature' };

  const bodyHash = bodyHashParam(request.url);
  if (bodyHash !== null && !SHA256_HEX.test(bodyHash)) return { ok: false, reason: 'malformed_signature' };
  // For a JSON post the parameters are not signed, the URL's body hash stands for them.
  const signedParams =
    bodyHash === null ? twilioParameterString(new URLSearchParams(request.body.toString('utf8'))) : '';
  const urls = urlVariants(request.url);
  const matched = anySecretMatches(
    options.secrets,
    (token) => urls.map((url) => hmac('sha1', token, url + signedParams, 'base64')),
    [signature],
  );
  if (!matched) return { ok: false, reason: 'bad_signature' };
  if (bodyHash !== null) {
    const actual = createHash('sha256').update(request.body).digest('hex');
    if (!constantTimeEqual(actual, bodyHash.toLowerCase())) return { ok: false, reason: 'bad_signature' };
  }
  return { ok: true };
}

/** Every parameter, values as strings; Twilio adds parameters without notice, so none is dropped. */
function readParams(request: RawWebhookRequest): Record<string, string> {
  if (bodyHashParam(request.url) === null) {
    // A repeated name keeps its first value (Twilio's messaging callbacks do not repeat names).
    const params: Record<string, string> = {};
    for (const [name, value] of new URLSearchParams(request.body.toString('utf8'))) {
      if (!(name in params)) params[name] = value;
    }
    return params;
  }
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries(readJsonObject(request.body, 'Twilio'))) {
    params[name] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return params;
}

function parse(request: RawWebhookRequest): ProviderEvent[] {
  const params = readParams(request);
  const messageSid = params.MessageSid;
  if (!messageSid) throw new MalformedWebhookError('Twilio body has no MessageSid');
  const status = params.MessageStatus;
  // An inbound message carries no MessageStatus, or "received"; anything else is a status callback
  // for a message we sent, one event per (MessageSid, MessageStatus).
  if (!status || status === 'received') {
    return [{ eventId: messageSid, eventType: 'message.inbound', payload: params, idempotencyKey: null }];
  }
  return [
    {
      eventId: `${messageSid}:${status}`,
      eventType: 'message.status',
      payload: params,
      idempotencyKey: null,
    },
  ];
}

/** A status callback for a MessageSid Carebook never sent: the handler finds no such message. */
function probe(token: string, url: string): SignedProbe {
  const params = new URLSearchParams({
    ApiVersion: '2010-04-01',
    MessageSid: `SMcarebooksecretcheck${probeId()}`,
    MessageStatus: 'delivered',
  });
  return {
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      [SIGNATURE_HEADER]: hmac('sha1', token, url + twilioParameterString(params), 'base64'),
    },
    body: params.toString(),
  };
}

export const twilio: WebhookProvider = {
  name: 'twilio',
  title: 'Twilio',
  secret: {
    name: 'TWILIO_AUTH_TOKEN',
    description:
      'Twilio Auth Token(s) that sign its webhooks; comma-separated during a rotation; `_<NAME>` suffix for further accounts.',
  },
  defaultIntegrationId: '00000000-0000-4000-8000-000000000002',
  signedHeaders: [SIGNATURE_HEADER],
  signsUrl: true,
  verify,
  parse,
  // Twilio reads the answer to a message as TwiML: an empty document sends no reply message.
  reply: {
    contentType: 'text/xml',
    body: '<?xml version="1.0" encoding="UTF-8"?><Response></Response>',
    summary: 'an empty TwiML document',
    schema: Type.String({
      description: 'Twilio gets an empty TwiML document, `<Response></Response>`: no reply message.',
    }),
  },
  probe,
  handlers: { 'message.status': twilioStatus, 'message.inbound': twilioInbound },
};
