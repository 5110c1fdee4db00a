// Each provider's real signature scheme, checked against the vectors in providers.md and the
// providers' own documented examples, then against every way a request can be wrong. Signatures for
// made-up requests come from test/helpers/provider-signing.ts, written apart from the verifiers.
import { describe, expect, it } from 'vitest';
import { daily } from '../../src/webhooks/providers/daily.js';
import { PROVIDERS } from '../../src/webhooks/providers/index.js';
import { stripe } from '../../src/webhooks/providers/stripe.js';
import { twilio } from '../../src/webhooks/providers/twilio.js';
import { MalformedWebhookError, type RawWebhookRequest } from '../../src/webhooks/providers/types.js';
import { whatsapp } from '../../src/webhooks/providers/whatsapp.js';
import {
  signDaily,
  signStripe,
  signTwilio,
  signWhatsApp,
  twilioFormBody,
} from '../helpers/provider-signing.js';

function request(
  body: string | Buffer,
  headers: Record<string, string | undefined>,
  url = 'https://api.clinic.example/webhooks/x',
): RawWebhookRequest {
  return { url, headers, body: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8') };
}

const at = (seconds: number) => new Date(seconds * 1000);

describe('stripe', () => {
  const secret = 'whsec_test_clinic_vector_0001';
  const body =
    '{"id":"evt_test_0001","object":"event","type":"payment_intent.succeeded","created":1700000000,"livemode":false,"data":{"object":{"id":"pi_test_0001","object":"payment_intent","amount":5000,"currency":"usd","status":"succeeded","metadata":{"booking_id":"bk_123"}}}}';
  const vectorHeader = 't=1700000000,v1=4a7f14011c8a999a0b0c3887cff8b3adb7da87e77a216da6b1972d5b57dad816';
  const signed = (header: string | undefined, payload = body) =>
    request(payload, { 'stripe-signature': header });
  const options = { secrets: [secret], now: at(1700000000) };

  it('verifies the providers.md vector, and the test helper signs it identically', () => {
    expect(signStripe(body, secret, 1700000000)).toBe(vectorHeader);
    expect(stripe.verify(signed(vectorHeader), options)).toEqual({ ok: true });
  });

  it('accepts one matching v1 among several, and ignores v0', () => {
    const v1 = vectorHeader.split('v1=')[1];
    const header = `t=1700000000,v1=${'0'.repeat(64)},v1=${v1},v0=${'f'.repeat(64)}`;
    expect(stripe.verify(signed(header), options)).toEqual({ ok: true });
  });

  it('rejects a tampered body and a wrong secret', () => {
    expect(stripe.verify(signed(vectorHeader, body.replace('5000', '50')), options)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    expect(stripe.verify(signed(vectorHeader), { ...options, secrets: ['whsec_other'] })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('rejects a signature that only v0 carries', () => {
    const v1 = vectorHeader.split('v1=')[1];
    expect(stripe.verify(signed(`t=1700000000,v0=${v1}`), options)).toEqual({
      ok: false,
      reason: 'malformed_signature',
    });
  });

  it('bounds the timestamp 300 s both ways, inclusive', () => {
    expect(stripe.verify(signed(vectorHeader), { ...options, now: at(1700000300) })).toEqual({ ok: true });
    expect(stripe.verify(signed(vectorHeader), { ...options, now: at(1700000301) })).toEqual({
      ok: false,
      reason: 'stale_timestamp',
    });
    expect(stripe.verify(signed(vectorHeader), { ...options, now: at(1699999700) })).toEqual({ ok: true });
    expect(stripe.verify(signed(vectorHeader), { ...options, now: at(1699999699) })).toEqual({
      ok: false,
      reason: 'stale_timestamp',
    });
  });

  it('honours toleranceSeconds, and ignoreTimestamp skips only the age check', () => {
    expect(
      stripe.verify(signed(vectorHeader), { ...options, now: at(1700000061), toleranceSeconds: 60 }),
    ).toEqual({
      ok: false,
      reason: 'stale_timestamp',
    });
    const aWeekLater = { ...options, now: at(1700000000 + 7 * 86400), ignoreTimestamp: true };
    expect(stripe.verify(signed(vectorHeader), aWeekLater)).toEqual({ ok: true });
    expect(stripe.verify(signed(vectorHeader, `${body} `), aWeekLater)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('reports a bad signature before a stale timestamp', () => {
    expect(stripe.verify(signed(vectorHeader, '{}'), { ...options, now: at(1800000000) })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('tells a missing header from a malformed one', () => {
    expect(stripe.verify(signed(undefined), options)).toEqual({ ok: false, reason: 'missing_signature' });
    expect(stripe.verify(signed(''), options)).toEqual({ ok: false, reason: 'missing_signature' });
    for (const header of ['v1=abc', 't=1700000000', 't=,v1=abc', 't=17e8,v1=abc', 'garbage']) {
      expect(stripe.verify(signed(header), options), header).toEqual({
        ok: false,
        reason: 'malformed_signature',
      });
    }
  });

  it('rejects a signature of another length without throwing', () => {
    expect(stripe.verify(signed('t=1700000000,v1=4a7f'), options)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('accepts any configured secret during a rotation, and nothing without one', () => {
    expect(stripe.verify(signed(vectorHeader), { ...options, secrets: ['whsec_old', secret] })).toEqual({
      ok: true,
    });
    expect(stripe.verify(signed(vectorHeader), { ...options, secrets: [secret, 'whsec_new'] })).toEqual({
      ok: true,
    });
    expect(stripe.verify(signed(vectorHeader), { ...options, secrets: [] })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('verifies a request the helper signed now', () => {
    const now = Math.floor(Date.now() / 1000);
    expect(stripe.verify(signed(signStripe(body, secret, now)), { secrets: [secret] })).toEqual({ ok: true });
  });

  it('parses one event keyed by the event id', () => {
    const [event, ...rest] = stripe.parse(signed(vectorHeader));
    expect(rest).toEqual([]);
    expect(event).toEqual({
      eventId: 'evt_test_0001',
      eventType: 'payment_intent.succeeded',
      payload: JSON.parse(body),
      idempotencyKey: null,
    });
    const withKey = JSON.stringify({
      ...JSON.parse(body),
      request: { id: 'req_1', idempotency_key: 'idem-1' },
    });
    expect(stripe.parse(signed(vectorHeader, withKey))[0]?.idempotencyKey).toBe('idem-1');
  });

  it('throws MalformedWebhookError on a body it cannot read', () => {
    expect(() => stripe.parse(signed(vectorHeader, 'not json'))).toThrow(MalformedWebhookError);
    expect(() => stripe.parse(signed(vectorHeader, '[]'))).toThrow(MalformedWebhookError);
    expect(() => stripe.parse(signed(vectorHeader, '{"type":"x"}'))).toThrow(/no id/);
    expect(() => stripe.parse(signed(vectorHeader, '{"id":"evt_1"}'))).toThrow(/no type/);
  });
});

describe('twilio', () => {
  const token = 'test_auth_token_0123456789abcdef';
  const url = 'https://api.clinic.example/webhooks/twilio/sms-status?clinic=42';
  const body =
    'AccountSid=ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&ApiVersion=2010-04-01&From=%2B15005550006&MessageSid=SMbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb&MessageStatus=delivered&SmsSid=SMbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb&SmsStatus=delivered&To=%2B15551234567';
  const vectorSignature = '3AxU8KV1jBbUm1kDUIdD1c6aTO0=';
  const post = (signature: string | undefined, payload = body, target = url) =>
    request(payload, { 'x-twilio-signature': signature }, target);
  const options = { secrets: [token] };

  it('verifies the providers.md vector', () => {
    expect(signTwilio(url, Object.fromEntries(new URLSearchParams(body)), token).signature).toBe(
      vectorSignature,
    );
    expect(twilio.verify(post(vectorSignature), options)).toEqual({ ok: true });
  });

  it("verifies Twilio's own documented example", () => {
    const params = {
      CallSid: 'CA1234567890ABCDE',
      Caller: '+14158675309',
      Digits: '1234',
      From: '+14158675309',
      To: '+18005551212',
    };
    const docUrl = 'https://mycompany.com/myapp.php?foo=1&bar=2';
    const docPost = post('RSOYDt4T1cUTdK1PDd93/VVr8B8=', twilioFormBody(params), docUrl);
    expect(twilio.verify(docPost, { secrets: ['12345'] })).toEqual({ ok: true });
  });

  it('counts every parameter, unknown ones included', () => {
    expect(
      twilio.verify(post(vectorSignature, body.replace('delivered&SmsSid', 'failed&SmsSid')), options),
    ).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    expect(twilio.verify(post(vectorSignature, `${body}&NewParam=1`), options)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    expect(twilio.verify(post(vectorSignature, body.replace('&ApiVersion=2010-04-01', '')), options)).toEqual(
      {
        ok: false,
        reason: 'bad_signature',
      },
    );
  });

  it('signs the parameters sorted, whatever order the body lists them in', () => {
    const reordered = body.split('&').reverse().join('&');
    expect(twilio.verify(post(vectorSignature, reordered), options)).toEqual({ ok: true });
  });

  it('counts a repeated name the way twilio-node does: each distinct value once, sorted', () => {
    const params = { MessageSid: 'SM1', MediaUrl: ['https://b.example/2', 'https://a.example/1'] };
    const { signature } = signTwilio(url, params, token);
    const bodyInOrder =
      'MessageSid=SM1&MediaUrl=https%3A%2F%2Fb.example%2F2&MediaUrl=https%3A%2F%2Fa.example%2F1';
    expect(twilio.verify(post(signature, bodyInOrder), options)).toEqual({ ok: true });
    const swapped =
      'MediaUrl=https%3A%2F%2Fa.example%2F1&MessageSid=SM1&MediaUrl=https%3A%2F%2Fb.example%2F2';
    expect(twilio.verify(post(signature, swapped), options)).toEqual({ ok: true });
    expect(twilio.verify(post(signature, bodyInOrder.replace('a.example', 'c.example')), options)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    const twice = signTwilio(url, { MessageSid: 'SM1', Tag: ['x', 'x'] }, token).signature;
    expect(twice).toBe(signTwilio(url, { MessageSid: 'SM1', Tag: 'x' }, token).signature);
    expect(twilio.verify(post(twice, 'MessageSid=SM1&Tag=x&Tag=x'), options)).toEqual({ ok: true });
  });

  it('rejects a wrong token and another URL', () => {
    expect(twilio.verify(post(vectorSignature), { secrets: ['another_token'] })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    expect(
      twilio.verify(post(vectorSignature, body, url.replace('clinic=42', 'clinic=43')), options),
    ).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    expect(twilio.verify(post(vectorSignature, body, url.replace('https:', 'http:')), options)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('accepts the URL with the default port added or removed, like twilio-node', () => {
    const withPort = 'https://api.clinic.example:443/webhooks/twilio/sms-status?clinic=42';
    expect(twilio.verify(post(vectorSignature, body, withPort), options)).toEqual({ ok: true });

    const params = Object.fromEntries(new URLSearchParams(body));
    const signedWithPort = signTwilio(withPort, params, token).signature;
    expect(twilio.verify(post(signedWithPort), options)).toEqual({ ok: true });
    expect(twilio.verify(post(signedWithPort, body, withPort), options)).toEqual({ ok: true });

    const http = 'http://hooks.clinic.example/twilio';
    const signedHttp80 = signTwilio('http://hooks.clinic.example:80/twilio', params, token).signature;
    expect(twilio.verify(post(signedHttp80, body, http), options)).toEqual({ ok: true });
    const signedHttp = signTwilio(http, params, token).signature;
    expect(twilio.verify(post(signedHttp, body, 'http://hooks.clinic.example:80/twilio'), options)).toEqual({
      ok: true,
    });

    const custom = 'https://api.clinic.example:8443/webhooks/twilio';
    expect(twilio.verify(post(signTwilio(custom, params, token).signature, body, custom), options)).toEqual({
      ok: true,
    });
    expect(twilio.verify(post(signTwilio(custom, params, token).signature, body, withPort), options)).toEqual(
      {
        ok: false,
        reason: 'bad_signature',
      },
    );
  });

  describe('JSON posts (bodySHA256)', () => {
    const json =
      '{"MessageSid":"SMcccccccccccccccccccccccccccccccc","MessageStatus":"read","ErrorCode":null,"NumSegments":1}';
    const signedJson = signTwilio('https://api.clinic.example/webhooks/twilio/json', json, token);

    it('verifies the URL signature and the body hash', () => {
      expect(signedJson.url).toMatch(/\?bodySHA256=[0-9a-f]{64}$/);
      expect(twilio.verify(post(signedJson.signature, json, signedJson.url), options)).toEqual({ ok: true });
    });

    it('matches the hash of the example body in Twilio’s own JSON snippet', () => {
      const { url: snippetUrl } = signTwilio(
        'https://example.com/myapp',
        '{"CallSid":"CA1234567890ABCDE","Caller":"+12349013030"}',
        'x',
      );
      expect(snippetUrl).toBe(
        'https://example.com/myapp?bodySHA256=5ccde7145dfb8f56479710896586cb9d5911809d83afbe34627818790db0aec9',
      );
    });

    it('rejects a body that does not hash to bodySHA256, even with a valid URL signature', () => {
      const tampered = json.replace('"read"', '"failed"');
      expect(twilio.verify(post(signedJson.signature, tampered, signedJson.url), options)).toEqual({
        ok: false,
        reason: 'bad_signature',
      });
    });

    it('rejects a bodySHA256 rewritten to match a tampered body', () => {
      const tampered = json.replace('"read"', '"failed"');
      const forgedUrl = signTwilio(
        'https://api.clinic.example/webhooks/twilio/json',
        tampered,
        'not-the-token',
      ).url;
      expect(twilio.verify(post(signedJson.signature, tampered, forgedUrl), options)).toEqual({
        ok: false,
        reason: 'bad_signature',
      });
    });

    it('accepts the default port variants too', () => {
      const withPort = signedJson.url.replace('api.clinic.example/', 'api.clinic.example:443/');
      expect(twilio.verify(post(signedJson.signature, json, withPort), options)).toEqual({ ok: true });
    });

    it('calls a bodySHA256 that is not a SHA-256 hex malformed', () => {
      const badHash = 'https://api.clinic.example/webhooks/twilio/json?bodySHA256=xyz';
      expect(twilio.verify(post(signedJson.signature, json, badHash), options)).toEqual({
        ok: false,
        reason: 'malformed_signature',
      });
    });

    it('parses the JSON body into string-valued params', () => {
      expect(twilio.parse(post(signedJson.signature, json, signedJson.url))).toEqual([
        {
          eventId: 'SMcccccccccccccccccccccccccccccccc:read',
          eventType: 'message.status',
          payload: {
            MessageSid: 'SMcccccccccccccccccccccccccccccccc',
            MessageStatus: 'read',
            ErrorCode: 'null',
            NumSegments: '1',
          },
          idempotencyKey: null,
        },
      ]);
    });
  });

  it('tells a missing header from a malformed one, and never throws on another length', () => {
    expect(twilio.verify(post(undefined), options)).toEqual({ ok: false, reason: 'missing_signature' });
    expect(twilio.verify(post(''), options)).toEqual({ ok: false, reason: 'missing_signature' });
    expect(twilio.verify(post('not base64!'), options)).toEqual({ ok: false, reason: 'malformed_signature' });
    expect(twilio.verify(post('3AxU8KV1'), options)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(twilio.verify(post('A'.repeat(40)), options)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('accepts any configured token during a rotation, and nothing without one', () => {
    expect(twilio.verify(post(vectorSignature), { secrets: ['old_token', token] })).toEqual({ ok: true });
    expect(twilio.verify(post(vectorSignature), { secrets: [] })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('parses a status callback into (MessageSid, MessageStatus), keeping every param', () => {
    expect(twilio.parse(post(vectorSignature))).toEqual([
      {
        eventId: 'SMbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb:delivered',
        eventType: 'message.status',
        payload: Object.fromEntries(new URLSearchParams(body)),
        idempotencyKey: null,
      },
    ]);
    expect(twilio.parse(post(vectorSignature))[0]?.payload.From).toBe('+15005550006');
  });

  it('parses an inbound message, WhatsApp through Twilio included', () => {
    const inbound = twilioFormBody({
      MessageSid: 'SMdddddddddddddddddddddddddddddddd',
      From: 'whatsapp:+15551234567',
      WaId: '15551234567',
      ProfileName: 'Ana María',
      Body: 'Can I move my appointment?',
      NumMedia: '0',
    });
    const [event] = twilio.parse(post('x', inbound));
    expect(event?.eventId).toBe('SMdddddddddddddddddddddddddddddddd');
    expect(event?.eventType).toBe('message.inbound');
    expect(event?.payload.ProfileName).toBe('Ana María');
    const received = twilio.parse(post('x', `${inbound}&MessageStatus=received&SmsStatus=received`));
    expect(received.map((e) => [e.eventId, e.eventType])).toEqual([
      ['SMdddddddddddddddddddddddddddddddd', 'message.inbound'],
    ]);
  });

  it('throws MalformedWebhookError without a MessageSid', () => {
    expect(() => twilio.parse(post('x', 'CallSid=CA1&CallStatus=ringing'))).toThrow(MalformedWebhookError);
    const jsonUrl = `${url}&bodySHA256=${'0'.repeat(64)}`;
    expect(() => twilio.parse(post('x', 'not json', jsonUrl))).toThrow(MalformedWebhookError);
  });
});

describe('whatsapp', () => {
  const secret = '0123456789abcdef0123456789abcdef';
  const body =
    '{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"statuses":[{"id":"wamid.TEST0002","status":"delivered","timestamp":"1700000100","recipient_id":"5215512345678"}]},"field":"messages"}]}]}';
  const vectorHeader = 'sha256=516796c549b14a6330f368b2faff94e2dd2135684e694298ae890b9820d1bf4d';
  const post = (header: string | undefined, payload: string | Buffer = body) =>
    request(payload, { 'x-hub-signature-256': header });
  const options = { secrets: [secret] };

  it('verifies the providers.md vector, and the helper signs it identically', () => {
    expect(signWhatsApp(body, secret)).toBe(vectorHeader);
    expect(whatsapp.verify(post(vectorHeader), options)).toEqual({ ok: true });
    expect(whatsapp.verify(post(vectorHeader.toUpperCase().replace('SHA256=', 'sha256=')), options)).toEqual({
      ok: true,
    });
  });

  it('hashes the bytes as received: Meta’s escaped unicode is not re-serialised', () => {
    const escaped = '{"entry":[],"text":"Jos\\u00e9 \\ud83d\\ude00"}';
    const header = signWhatsApp(escaped, secret);
    expect(whatsapp.verify(post(header, escaped), options)).toEqual({ ok: true });
    expect(whatsapp.verify(post(header, JSON.stringify(JSON.parse(escaped))), options)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('rejects a tampered body and a wrong secret', () => {
    expect(whatsapp.verify(post(vectorHeader, body.replace('delivered', 'read')), options)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    expect(whatsapp.verify(post(vectorHeader), { secrets: ['fedcba9876543210fedcba9876543210'] })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('tells a missing header from a malformed one, and never throws on another length', () => {
    expect(whatsapp.verify(post(undefined), options)).toEqual({ ok: false, reason: 'missing_signature' });
    const hex = vectorHeader.slice('sha256='.length);
    for (const header of [hex, `sha1=${hex}`, 'sha256=', 'sha256=not-hex']) {
      expect(whatsapp.verify(post(header), options), header).toEqual({
        ok: false,
        reason: 'malformed_signature',
      });
    }
    expect(whatsapp.verify(post('sha256=5167'), options)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('accepts any configured secret during a rotation, and nothing without one', () => {
    expect(whatsapp.verify(post(vectorHeader), { secrets: ['old', secret] })).toEqual({ ok: true });
    expect(whatsapp.verify(post(vectorHeader), { secrets: [] })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('parses the vector into one status event with its metadata', () => {
    expect(whatsapp.parse(post(vectorHeader))).toEqual([
      {
        eventId: 'wamid.TEST0002:delivered',
        eventType: 'message.status',
        payload: {
          status: {
            id: 'wamid.TEST0002',
            status: 'delivered',
            timestamp: '1700000100',
            recipient_id: '5215512345678',
          },
          metadata: { display_phone_number: '15550783881', phone_number_id: '106540352242922' },
          contacts: [],
        },
        idempotencyKey: null,
      },
    ]);
  });

  it('splits a batch: every message and every status of every change is its own event', () => {
    const metadataA = { display_phone_number: '15550000001', phone_number_id: 'PN_A' };
    const metadataB = { display_phone_number: '15550000002', phone_number_id: 'PN_B' };
    const contacts = [{ profile: { name: 'Ana' }, wa_id: '5215511111111' }];
    const batch = JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: 'WABA1',
          changes: [
            {
              field: 'messages',
              value: {
                messaging_product: 'whatsapp',
                metadata: metadataA,
                contacts,
                messages: [
                  {
                    from: '5215511111111',
                    id: 'wamid.M1',
                    timestamp: '1700000001',
                    type: 'text',
                    text: { body: 'hola' },
                  },
                  {
                    from: '5215511111111',
                    id: 'wamid.M2',
                    timestamp: '1700000002',
                    type: 'button',
                    button: { text: 'Yes' },
                  },
                ],
                statuses: [
                  { id: 'wamid.S1', status: 'read', timestamp: '1700000003', recipient_id: '5215522222222' },
                ],
              },
            },
            { field: 'account_update', value: { event: 'VERIFIED_ACCOUNT' } },
          ],
        },
        {
          id: 'WABA2',
          changes: [
            {
              field: 'messages',
              value: {
                metadata: metadataB,
                statuses: [
                  {
                    id: 'wamid.S1',
                    status: 'delivered',
                    timestamp: '1700000000',
                    recipient_id: '5215522222222',
                  },
                  {
                    id: 'wamid.S2',
                    status: 'failed',
                    timestamp: '1700000004',
                    recipient_id: '1',
                    errors: [{ code: 131026 }],
                  },
                ],
              },
            },
          ],
        },
      ],
    });
    const events = whatsapp.parse(post(signWhatsApp(batch, secret), batch));
    expect(events.map((e) => [e.eventId, e.eventType])).toEqual([
      ['wamid.M1', 'message.inbound'],
      ['wamid.M2', 'message.inbound'],
      ['wamid.S1:read', 'message.status'],
      ['wamid.S1:delivered', 'message.status'],
      ['wamid.S2:failed', 'message.status'],
    ]);
    expect(events[0]?.payload).toEqual({
      message: {
        from: '5215511111111',
        id: 'wamid.M1',
        timestamp: '1700000001',
        type: 'text',
        text: { body: 'hola' },
      },
      metadata: metadataA,
      contacts,
    });
    expect(events[4]?.payload.metadata).toEqual(metadataB);
  });

  it('keeps a contacts-type message’s own contacts apart from the change’s', () => {
    const shared = [{ name: { formatted_name: 'Dr Lee' }, phones: [{ phone: '+15550001111' }] }];
    const payload = JSON.stringify({
      entry: [
        {
          changes: [
            {
              field: 'messages',
              value: {
                metadata: { phone_number_id: 'PN' },
                contacts: [{ wa_id: '1' }],
                messages: [{ id: 'wamid.C', type: 'contacts', contacts: shared }],
              },
            },
          ],
        },
      ],
    });
    const [event] = whatsapp.parse(post('x', payload));
    expect(event?.payload).toEqual({
      message: { id: 'wamid.C', type: 'contacts', contacts: shared },
      metadata: { phone_number_id: 'PN' },
      contacts: [{ wa_id: '1' }],
    });
  });

  it('gives zero events for an empty batch or fields it does not handle', () => {
    expect(whatsapp.parse(post('x', '{"object":"whatsapp_business_account","entry":[]}'))).toEqual([]);
    expect(whatsapp.parse(post('x', '{"entry":[{"changes":[]}]}'))).toEqual([]);
    expect(
      whatsapp.parse(
        post(
          'x',
          '{"entry":[{"changes":[{"field":"message_template_status_update","value":{"event":"APPROVED"}}]}]}',
        ),
      ),
    ).toEqual([]);
    expect(
      whatsapp.parse(post('x', '{"entry":[{"changes":[{"field":"messages","value":{"metadata":{}}}]}]}')),
    ).toEqual([]);
    // Only the "messages" field is read, even when another field's value looks like one.
    const lookalike =
      '{"entry":[{"changes":[{"field":"future_field","value":{"messages":[{"id":"wamid.F"}]}}]}]}';
    expect(whatsapp.parse(post('x', lookalike))).toEqual([]);
  });

  it('throws MalformedWebhookError on a body that is not JSON, lacks entry, or has an unidentifiable item', () => {
    expect(() => whatsapp.parse(post('x', 'not json'))).toThrow(MalformedWebhookError);
    expect(() => whatsapp.parse(post('x', '{"object":"whatsapp_business_account"}'))).toThrow(/entry/);
    expect(() => whatsapp.parse(post('x', '{"entry":{}}'))).toThrow(MalformedWebhookError);
    const noId = '{"entry":[{"changes":[{"field":"messages","value":{"messages":[{"type":"text"}]}}]}]}';
    expect(() => whatsapp.parse(post('x', noId))).toThrow(/message has no id/);
    const noStatus = '{"entry":[{"changes":[{"field":"messages","value":{"statuses":[{"id":"wamid.X"}]}}]}]}';
    expect(() => whatsapp.parse(post('x', noStatus))).toThrow(/status has no status/);
  });
});

describe('daily', () => {
  const secret = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';
  const body =
    '{"version":"1.0.0","type":"meeting.ended","id":"mtg-end-TEST0001","payload":{"start_ts":1699999000,"end_ts":1700000000,"meeting_id":"f2aa1ade-ff80-464c-b46e-50ffa577d48d","room":"clinic-bk-123"},"event_ts":1700000000.5}';
  const vectorSignature = 'eNKmiF3pscm6O/sUvoeJpvbZI2oeDFt0VKvJNOIhgPE=';
  const post = (signature: string | undefined, timestamp: string | undefined, payload = body) =>
    request(payload, { 'x-webhook-signature': signature, 'x-webhook-timestamp': timestamp });
  const options = { secrets: [secret], now: at(1700000000) };

  it('verifies the providers.md vector, and the helper signs it identically', () => {
    expect(signDaily(body, secret, '1700000000')).toBe(vectorSignature);
    expect(daily.verify(post(vectorSignature, '1700000000'), options)).toEqual({ ok: true });
  });

  it('signs a millisecond timestamp as received and normalises it only for the age check', () => {
    const ms = '1700000000000';
    const signature = signDaily(body, secret, ms);
    expect(daily.verify(post(signature, ms), options)).toEqual({ ok: true });
    expect(daily.verify(post(signature, ms), { ...options, now: at(1700000301) })).toEqual({
      ok: false,
      reason: 'stale_timestamp',
    });
    expect(daily.verify(post(signature, '1700000000'), options)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('bounds the timestamp 300 s both ways; ignoreTimestamp skips only that', () => {
    expect(daily.verify(post(vectorSignature, '1700000000'), { ...options, now: at(1700000301) })).toEqual({
      ok: false,
      reason: 'stale_timestamp',
    });
    expect(daily.verify(post(vectorSignature, '1700000000'), { ...options, now: at(1699999699) })).toEqual({
      ok: false,
      reason: 'stale_timestamp',
    });
    expect(daily.verify(post(vectorSignature, '1700000000'), { ...options, now: at(1699999700) })).toEqual({
      ok: true,
    });
    const replay = { ...options, now: at(1800000000), ignoreTimestamp: true };
    expect(daily.verify(post(vectorSignature, '1700000000'), replay)).toEqual({ ok: true });
    expect(daily.verify(post(vectorSignature, '1700000001'), replay)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('rejects a tampered body and a wrong secret, and uses the secret decoded, not as text', () => {
    expect(
      daily.verify(
        post(vectorSignature, '1700000000', body.replace('clinic-bk-123', 'clinic-bk-124')),
        options,
      ),
    ).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    const other = Buffer.alloc(32, 7).toString('base64');
    expect(daily.verify(post(vectorSignature, '1700000000'), { ...options, secrets: [other] })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    const signedWithText = signDaily(body, Buffer.from(secret, 'utf8').toString('base64'), '1700000000');
    expect(daily.verify(post(signedWithText, '1700000000'), options)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('tells missing headers from malformed ones, and never throws on another length', () => {
    expect(daily.verify(post(undefined, '1700000000'), options)).toEqual({
      ok: false,
      reason: 'missing_signature',
    });
    expect(daily.verify(post(undefined, undefined), options)).toEqual({
      ok: false,
      reason: 'missing_signature',
    });
    expect(daily.verify(post(vectorSignature, undefined), options)).toEqual({
      ok: false,
      reason: 'malformed_signature',
    });
    expect(daily.verify(post(vectorSignature, 'yesterday'), options)).toEqual({
      ok: false,
      reason: 'malformed_signature',
    });
    expect(daily.verify(post('not base64!', '1700000000'), options)).toEqual({
      ok: false,
      reason: 'malformed_signature',
    });
    expect(daily.verify(post('eNKm', '1700000000'), options)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('accepts any configured secret during a rotation, and nothing without a usable one', () => {
    const old = Buffer.alloc(32, 1).toString('base64');
    expect(daily.verify(post(vectorSignature, '1700000000'), { ...options, secrets: [old, secret] })).toEqual(
      { ok: true },
    );
    expect(daily.verify(post(vectorSignature, '1700000000'), { ...options, secrets: [] })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    // An empty key would let anyone sign: a secret that decodes to nothing is never used.
    const emptyKeySignature = signDaily(body, '', '1700000000');
    expect(
      daily.verify(post(emptyKeySignature, '1700000000'), { ...options, secrets: ['', '===='] }),
    ).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('parses one event keyed by the event id', () => {
    expect(daily.parse(post(vectorSignature, '1700000000'))).toEqual([
      {
        eventId: 'mtg-end-TEST0001',
        eventType: 'meeting.ended',
        payload: JSON.parse(body),
        idempotencyKey: null,
      },
    ]);
    expect(() => daily.parse(post('x', '1', 'not json'))).toThrow(MalformedWebhookError);
    expect(() => daily.parse(post('x', '1', '{"type":"meeting.ended"}'))).toThrow(/no id/);
    expect(() => daily.parse(post('x', '1', '{"test":"test"}'))).toThrow(MalformedWebhookError);
  });

  it('recognises only the webhook check body as a test ping, signed or not', () => {
    const ping = '{"test":"test"}';
    expect(daily.isTestPing?.(post(undefined, undefined, ping))).toBe(true);
    expect(daily.isTestPing?.(post(signDaily(ping, secret, '1700000000'), '1700000000', ping))).toBe(true);
    expect(daily.isTestPing?.(post(undefined, undefined, '{\n  "test": "test"\n}\n'))).toBe(true);
    for (const other of [
      body,
      '{"test":"test","type":"meeting.ended"}',
      '{"test":true}',
      '{"test":"x"}',
      '{}',
      '"test"',
      'test',
      '',
    ]) {
      expect(daily.isTestPing?.(post(undefined, undefined, other)), other).toBe(false);
    }
  });
});

describe('PROVIDERS', () => {
  it('maps every provider name to its module, and only Daily has a test ping', () => {
    expect(Object.keys(PROVIDERS).sort()).toEqual(['daily', 'stripe', 'twilio', 'whatsapp']);
    for (const [name, provider] of Object.entries(PROVIDERS)) expect(provider.name).toBe(name);
    expect(PROVIDERS.daily.signedHeaders).toEqual(['x-webhook-signature', 'x-webhook-timestamp']);
    expect(
      Object.values(PROVIDERS)
        .filter((p) => p.isTestPing)
        .map((p) => p.name),
    ).toEqual(['daily']);
  });
});
