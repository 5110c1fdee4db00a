// The Twilio client against the fake Twilio over real sockets. Twilio has no idempotency for
// Messages, so what matters is that a send whose outcome is unknown says `ambiguous`, and that
// the reconcile lookup finds the one message it may have sent (even before Twilio sent it).
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Fakes, startFakes } from '../../src/dev/fakes/index.js';
import { type SmsRequest, TwilioClient } from '../../src/outbound/clients/twilio.js';
import type { Delivery } from '../../src/outbound/outbox.js';
import { twilioOutbound } from '../../src/outbound/twilio.js';
import { failure, rendered } from '../helpers/outbound.js';

const ACCOUNT = { accountSid: `AC${'a'.repeat(32)}`, authToken: 'test_auth_token_0123456789abcdef' };
const SERVICE = `MG${'b'.repeat(32)}`;
let fakes: Fakes<{ twilio: typeof ACCOUNT }>;
let twilio: TwilioClient;
const SEND = 'POST /2010-04-01/Accounts/:accountSid/Messages.json' as const;

beforeAll(async () => {
  fakes = await startFakes({ twilio: ACCOUNT });
  twilio = client({ messagingServiceSid: SERVICE });
});
afterAll(() => fakes.stop());

function client(sender: { messagingServiceSid: string } | { from: string }, timeoutMs = 10_000) {
  return new TwilioClient({ ...ACCOUNT, sender, apiBase: fakes.urls.twilio, timeoutMs });
}

const phone = () => `+1555${String(randomInt(1_000_000, 9_999_999))}`;
const sms = (to = phone(), body = 'Your visit on Friday at 10:00 is confirmed.'): SmsRequest => ({
  to,
  body,
  statusCallbackUrl: 'https://api.clinic.example/webhooks/twilio?outbox_id=42',
  validityPeriodSeconds: 600,
});

describe('sending', () => {
  it('sends through the Messaging Service with the status callback and a short validity', async () => {
    const request = sms();
    const sent = await twilio.sendSms(request);
    expect(sent).toMatchObject({ sid: expect.stringMatching(/^SM/), status: 'accepted', dateSent: null });
    expect(fakes.twilio.messages({ to: request.to })).toEqual([
      expect.objectContaining({
        sid: sent.sid,
        body: request.body,
        messaging_service_sid: SERVICE,
        from: null,
        statusCallback: request.statusCallbackUrl,
        validityPeriod: '600',
      }),
    ]);
  });

  it('sends from one number when configured so', async () => {
    const from = '+15005550006';
    const request = sms();
    const sent = await client({ from }).sendSms(request);
    expect(sent.status).toBe('queued');
    expect(fakes.twilio.messages({ to: request.to })[0]).toMatchObject({ from, messaging_service_sid: null });
  });

  it('reports an opted-out recipient with its own reason, and sends nothing', async () => {
    const to = phone();
    fakes.twilio.optOut(to);
    const error = await failure(twilio.sendSms(sms(to)));
    expect(error).toMatchObject({
      provider: 'twilio',
      classification: 'permanent',
      reason: 'opted_out',
      status: 400,
      providerCode: '21610',
    });
    expect(fakes.twilio.messages({ to })).toHaveLength(0);
    fakes.twilio.optIn(to);
    await twilio.sendSms(sms(to));
    expect(fakes.twilio.messages({ to })).toHaveLength(1);
  });

  it('reports an invalid number as unreachable without repeating the number', async () => {
    const error = await failure(twilio.sendSms(sms('+0123')));
    expect(error).toMatchObject({
      classification: 'permanent',
      reason: 'unreachable_recipient',
      providerCode: '21211',
    });
    expect(rendered(error)).not.toContain('+0123');
  });

  it('checks validity and length before sending anything', async () => {
    const before = fakes.twilio.requests(SEND);
    await expect(twilio.sendSms({ ...sms(), validityPeriodSeconds: 36_001 })).rejects.toThrow(RangeError);
    await expect(twilio.sendSms({ ...sms(), validityPeriodSeconds: 0 })).rejects.toThrow(RangeError);
    await expect(twilio.sendSms(sms(phone(), 'x'.repeat(1601)))).rejects.toThrow(RangeError);
    expect(fakes.twilio.requests(SEND)).toBe(before);
  });
});

describe('ambiguous sends and the reconcile lookup', () => {
  it('a dropped reply is ambiguous, and the lookup finds the one accepted message not yet sent', async () => {
    const request = sms();
    const since = new Date();
    fakes.twilio.inject(SEND, { kind: 'drop_after_work' });
    const sends = fakes.twilio.requests(SEND);
    const error = await failure(twilio.sendSms(request));
    expect(error).toMatchObject({ classification: 'ambiguous', reason: 'network' });
    expect(fakes.twilio.requests(SEND)).toBe(sends + 1);
    await twilio.sendSms(sms(request.to, 'Another message to the same number'));

    const found = await twilio.findMessages(request.to, request.body, since);
    const [stored] = fakes.twilio.messages({ to: request.to, body: request.body });
    expect(found.map((message) => message.sid)).toEqual([stored?.sid]);
    expect(found[0]?.dateSent).toBeNull();
  });

  it('a 500 after the work is ambiguous too, and so is a hang past the timeout', async () => {
    const request = sms();
    const since = new Date();
    fakes.twilio.inject(SEND, { kind: 'error_after_work' }, { kind: 'hang', afterWork: true });
    expect(await failure(twilio.sendSms(request))).toMatchObject({
      classification: 'ambiguous',
      reason: 'server_error',
    });
    const quick = client({ messagingServiceSid: SERVICE }, 1000);
    const other = sms();
    expect(await failure(quick.sendSms(other))).toMatchObject({
      classification: 'ambiguous',
      reason: 'timeout',
    });
    await vi.waitFor(() => expect(fakes.twilio.hanging()).toBe(0), { timeout: 10_000 });
    expect(await twilio.findMessages(request.to, request.body, since)).toHaveLength(1);
    expect(await twilio.findMessages(other.to, other.body, since)).toHaveLength(1);
  });

  it('finds nothing when the send never happened, so a resend is safe', async () => {
    const request = sms();
    const since = new Date();
    fakes.twilio.inject(SEND, { kind: 'hang' });
    const quick = client({ messagingServiceSid: SERVICE }, 1000);
    expect(await failure(quick.sendSms(request))).toMatchObject({ classification: 'ambiguous' });
    expect(await twilio.findMessages(request.to, request.body, since)).toEqual([]);
  });

  it('pages through the recipient’s messages, newest first, back to `since`', async () => {
    const to = phone();
    const since = new Date();
    const oldest = sms(to, 'reminder 0');
    await twilio.sendSms(oldest);
    for (let index = 1; index <= 104; index += 1) await twilio.sendSms(sms(to, `reminder ${index}`));
    const listings = fakes.twilio.requests('GET /2010-04-01/Accounts/:accountSid/Messages.json');
    expect(await twilio.findMessages(to, oldest.body, since)).toHaveLength(1);
    expect(fakes.twilio.requests('GET /2010-04-01/Accounts/:accountSid/Messages.json')).toBe(listings + 2);
    expect(await twilio.findMessages(to, oldest.body, new Date(Date.now() + 5000))).toEqual([]);
  });

  it('the sender’s lookup does not take a message another row recorded for its own', async () => {
    const sender = twilioOutbound.sender?.(
      { ...ACCOUNT, sender: { messagingServiceSid: SERVICE }, apiBase: fakes.urls.twilio, timeoutMs: 10_000 },
      { publicUrl: null },
    );
    if (sender === undefined) throw new Error('twilioOutbound has no sender');
    // Two rows with the same text to the same number (a visit moved A → B → A says "moved to A"
    // twice). The first was sent and recorded; the second's worker died before it sent anything.
    // Only the fields the lookup reads: the rest of a Delivery does not take part.
    const to = phone();
    const row = (recordedRefs: string[]) =>
      ({
        payload: { to, body: 'Clinic: your visit has moved to Tue 8 Dec, 14:30.' },
        firstAttemptAt: new Date(),
        recordedRefs,
      }) as unknown as Delivery;
    const first = row([]);
    const sid = await sender.send(first, AbortSignal.timeout(10_000));
    expect(await sender.reconcile(row([sid]), AbortSignal.timeout(10_000))).toBeNull();
    // Without the record, the lookup would have taken the first row's message.
    expect(await sender.reconcile(row([]), AbortSignal.timeout(10_000))).toBe(sid);
  });
});

describe('reading and faults', () => {
  it('fetches a message and sees its status move', async () => {
    const sent = await twilio.sendSms(sms());
    await fakes.twilio.updateStatus(sent.sid, 'delivered', { skipCallback: true });
    const fetched = await twilio.fetchMessage(sent.sid);
    expect(fetched).toMatchObject({ sid: sent.sid, status: 'delivered' });
    expect(fetched?.dateSent).toBeInstanceOf(Date);
    expect(await twilio.fetchMessage(`SM${'0'.repeat(32)}`)).toBeNull();
  });

  it('a failed read is retryable, not ambiguous: reading twice sends nothing', async () => {
    fakes.twilio.inject('GET /2010-04-01/Accounts/:accountSid/Messages.json', { kind: 'error_after_work' });
    expect(await failure(twilio.findMessages(phone(), 'x', new Date()))).toMatchObject({
      classification: 'retryable',
      reason: 'server_error',
    });
  });

  it('a rate limit sent nothing and says when to come back', async () => {
    const request = sms();
    fakes.twilio.inject(SEND, { kind: 'rate_limit', retryAfterSeconds: 2 });
    expect(await failure(twilio.sendSms(request))).toMatchObject({
      classification: 'rate_limited',
      status: 429,
      providerCode: '20429',
      retryAfterMs: 2000,
    });
    expect(fakes.twilio.messages({ to: request.to })).toHaveLength(0);
  });

  it('a wrong auth token is a permanent configuration problem', async () => {
    const wrong = new TwilioClient({
      accountSid: ACCOUNT.accountSid,
      authToken: 'not_the_token_0000000000000000',
      sender: { messagingServiceSid: SERVICE },
      apiBase: fakes.urls.twilio,
      timeoutMs: 10_000,
    });
    const error = await failure(wrong.sendSms(sms()));
    expect(error).toMatchObject({
      classification: 'permanent',
      reason: 'provider_config',
      providerCode: '20003',
    });
    expect(rendered(error)).not.toContain('not_the_token');
  });
});
