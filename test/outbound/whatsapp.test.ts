// The WhatsApp client against the fake Cloud API over real sockets: the template message it sends,
// and Meta's error codes (asked of the fake on demand) mapped to the worker's classifications.
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Fakes, startFakes } from '../../src/dev/fakes/index.js';
import { type TemplateMessage, WhatsAppClient } from '../../src/outbound/clients/whatsapp.js';
import { failure, rendered } from '../helpers/outbound.js';

const ACCOUNT = { accessToken: 'EAAG_test_access_token_0123456789', phoneNumberId: '106540352242922' };
let fakes: Fakes<{ whatsapp: typeof ACCOUNT }>;
let whatsapp: WhatsAppClient;
const SEND = 'POST /v21.0/:phoneNumberId/messages' as const;

beforeAll(async () => {
  fakes = await startFakes({ whatsapp: ACCOUNT });
  whatsapp = new WhatsAppClient({ ...ACCOUNT, apiBase: fakes.urls.whatsapp, timeoutMs: 10_000 });
});
afterAll(() => fakes.stop());

const digits = () => `5215${String(randomInt(10_000_000, 99_999_999))}`;
const reminder = (to = `+${digits()}`): TemplateMessage => ({
  to,
  templateName: 'appt_reminder',
  languageCode: 'es',
  components: [{ type: 'body', parameters: [{ type: 'text', text: 'viernes 10:00' }] }],
  callbackData: 'outbox:123',
});

describe('sending a template', () => {
  it('sends the template with our callback data and returns the wamid', async () => {
    const message = reminder();
    const sent = await whatsapp.sendTemplate(message);
    expect(sent).toEqual({ messageId: expect.stringMatching(/^wamid\./), messageStatus: 'accepted' });
    expect(fakes.whatsapp.messages({ to: message.to.slice(1) })).toEqual([
      {
        id: sent.messageId,
        to: message.to.slice(1),
        templateName: 'appt_reminder',
        languageCode: 'es',
        components: message.components,
        callbackData: 'outbox:123',
        status: 'accepted',
      },
    ]);
  });

  it('refuses callback data Meta would not echo, before sending', async () => {
    const before = fakes.whatsapp.requests(SEND);
    await expect(whatsapp.sendTemplate({ ...reminder(), callbackData: 'x'.repeat(513) })).rejects.toThrow(
      RangeError,
    );
    expect(fakes.whatsapp.requests(SEND)).toBe(before);
  });
});

describe("Meta's error codes", () => {
  it.each([
    [131026, 'permanent', 'unreachable_recipient'],
    [131047, 'permanent', 'invalid_request'],
    [131009, 'permanent', 'invalid_request'],
    [131048, 'permanent', 'provider_config'],
    [190, 'permanent', 'provider_config'],
    [130429, 'rate_limited', 'rate_limit'],
    [131000, 'ambiguous', 'server_error'],
  ])('code %i is %s (%s)', async (code, classification, reason) => {
    const message = reminder();
    fakes.whatsapp.inject(SEND, { kind: 'reject', code });
    const error = await failure(whatsapp.sendTemplate(message));
    expect(error).toMatchObject({ provider: 'whatsapp', classification, reason, providerCode: String(code) });
    expect(fakes.whatsapp.messages({ to: message.to.slice(1) })).toHaveLength(0);
  });

  it('waits at least the pair rate (6 s) after 131056', async () => {
    fakes.whatsapp.inject(SEND, { kind: 'reject', code: 131056 });
    expect(await failure(whatsapp.sendTemplate(reminder()))).toMatchObject({
      classification: 'rate_limited',
      providerCode: '131056',
      retryAfterMs: 6000,
    });
  });

  it('takes the wait from Retry-After on a 429', async () => {
    fakes.whatsapp.inject(SEND, { kind: 'rate_limit', retryAfterSeconds: 2 });
    expect(await failure(whatsapp.sendTemplate(reminder()))).toMatchObject({
      classification: 'rate_limited',
      status: 429,
      retryAfterMs: 2000,
    });
  });

  it('reports a wrong token as code 190, without the token', async () => {
    const wrongToken = 'EAAG_wrong_token_9876543210';
    const wrong = new WhatsAppClient({
      ...ACCOUNT,
      accessToken: wrongToken,
      apiBase: fakes.urls.whatsapp,
      timeoutMs: 10_000,
    });
    const error = await failure(wrong.sendTemplate(reminder()));
    expect(error).toMatchObject({
      classification: 'permanent',
      reason: 'provider_config',
      status: 401,
      providerCode: '190',
    });
    expect(rendered(error)).not.toContain(wrongToken);
  });
});

describe('unknown outcomes', () => {
  it('a dropped reply or a 500 after the work is ambiguous: the message was sent once', async () => {
    const message = reminder();
    fakes.whatsapp.inject(SEND, { kind: 'drop_after_work' }, { kind: 'error_after_work' });
    const sends = fakes.whatsapp.requests(SEND);
    expect(await failure(whatsapp.sendTemplate(message))).toMatchObject({
      classification: 'ambiguous',
      reason: 'network',
    });
    const other = reminder();
    expect(await failure(whatsapp.sendTemplate(other))).toMatchObject({
      classification: 'ambiguous',
      reason: 'server_error',
      status: 500,
    });
    expect(fakes.whatsapp.messages({ to: message.to.slice(1) })).toHaveLength(1);
    expect(fakes.whatsapp.messages({ to: other.to.slice(1) })).toHaveLength(1);
    expect(fakes.whatsapp.requests(SEND)).toBe(sends + 2);
  });

  it('honours a client timeout shorter than the hang, as ambiguous', async () => {
    const quick = new WhatsAppClient({ ...ACCOUNT, apiBase: fakes.urls.whatsapp, timeoutMs: 1000 });
    fakes.whatsapp.inject(SEND, { kind: 'hang' });
    expect(await failure(quick.sendTemplate(reminder()))).toMatchObject({
      classification: 'ambiguous',
      reason: 'timeout',
    });
    await vi.waitFor(() => expect(fakes.whatsapp.hanging()).toBe(0), { timeout: 10_000 });
  });
});
