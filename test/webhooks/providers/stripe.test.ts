// Stripe's real signature scheme, checked against the vectors in providers.md and the
// provider's own documented examples, then against every way a request can be wrong. Signatures for
// made-up requests come from test/helpers/provider-signing.ts, written apart from the verifiers.
import { describe, expect, it } from 'vitest';
import { stripe } from '../../../src/webhooks/providers/stripe.js';
import { MalformedWebhookError } from '../../../src/webhooks/providers/types.js';
import { signStripe } from '../../helpers/provider-signing.js';
import { at, request } from './request.js';

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
