// Twilio's real signature scheme, checked against the vectors in providers.md and the
// provider's own documented examples, then against every way a request can be wrong. Signatures for
// made-up requests come from test/helpers/provider-signing.ts, written apart from the verifiers.
import { describe, expect, it } from 'vitest';
import { twilio } from '../../../src/webhooks/providers/twilio.js';
import { MalformedWebhookError } from '../../../src/webhooks/providers/types.js';
import { signTwilio, twilioFormBody } from '../../helpers/provider-signing.js';
import { request } from './request.js';

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
