// Daily's real signature scheme, checked against the vectors in providers.md and the
// provider's own documented examples, then against every way a request can be wrong. Signatures for
// made-up requests come from test/helpers/provider-signing.ts, written apart from the verifiers.
import { describe, expect, it } from 'vitest';
import { daily } from '../../../src/webhooks/providers/daily.js';
import { MalformedWebhookError } from '../../../src/webhooks/providers/types.js';
import { signDaily } from '../../helpers/provider-signing.js';
import { at, request } from './request.js';

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
