// WhatsApp (Meta)'s real signature scheme, checked against the vectors in providers.md and the
// provider's own documented examples, then against every way a request can be wrong. Signatures for
// made-up requests come from test/helpers/provider-signing.ts, written apart from the verifiers.
import { describe, expect, it } from 'vitest';
import { MalformedWebhookError } from '../../../src/webhooks/providers/types.js';
import { whatsapp } from '../../../src/webhooks/providers/whatsapp.js';
import { signWhatsApp } from '../../helpers/provider-signing.js';
import { request } from './request.js';

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
    const escaped = '{"object":"whatsapp_business_account","entry":[],"text":"Jos\\u00e9 \\ud83d\\ude00"}';
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
      object: 'whatsapp_business_account',
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
    expect(
      whatsapp.parse(post('x', '{"object":"whatsapp_business_account","entry":[{"changes":[]}]}')),
    ).toEqual([]);
    expect(
      whatsapp.parse(
        post(
          'x',
          '{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"message_template_status_update","value":{"event":"APPROVED"}}]}]}',
        ),
      ),
    ).toEqual([]);
    expect(
      whatsapp.parse(
        post(
          'x',
          '{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"metadata":{}}}]}]}',
        ),
      ),
    ).toEqual([]);
    // Only the "messages" field is read, even when another field's value looks like one.
    const lookalike =
      '{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"future_field","value":{"messages":[{"id":"wamid.F"}]}}]}]}';
    expect(whatsapp.parse(post('x', lookalike))).toEqual([]);
  });

  it('gives zero events for another Meta product signed with the same app secret (object is not WhatsApp)', () => {
    const message = { from: '15550199003', id: 'wamid.IG', type: 'text', text: { body: 'C' } };
    const body = (object: string) =>
      JSON.stringify({
        object,
        entry: [{ changes: [{ field: 'messages', value: { messages: [message] } }] }],
      });
    expect(whatsapp.parse(post('x', body('whatsapp_business_account')))).toHaveLength(1);
    expect(whatsapp.parse(post('x', body('instagram')))).toEqual([]);
    expect(whatsapp.parse(post('x', body('page')))).toEqual([]);
  });

  it('throws MalformedWebhookError on a body that is not JSON, lacks entry, or has an unidentifiable item', () => {
    expect(() => whatsapp.parse(post('x', 'not json'))).toThrow(MalformedWebhookError);
    expect(() => whatsapp.parse(post('x', '{"object":"whatsapp_business_account"}'))).toThrow(/entry/);
    expect(() => whatsapp.parse(post('x', '{"object":"whatsapp_business_account","entry":{}}'))).toThrow(
      MalformedWebhookError,
    );
    const noId =
      '{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"type":"text"}]}}]}]}';
    expect(() => whatsapp.parse(post('x', noId))).toThrow(/message has no id/);
    const noStatus =
      '{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"statuses":[{"id":"wamid.X"}]}}]}]}';
    expect(() => whatsapp.parse(post('x', noStatus))).toThrow(/status has no status/);
  });
});
