// Twilio (SMS, WhatsApp via Twilio) and WhatsApp Cloud API → notifications and inbound messages.
// Message bodies and phone numbers go to the database only, never to logs.
import { field, type Handler, optionalField } from './types.js';

async function status(
  client: Parameters<Handler>[0],
  provider: string,
  messageId: string,
  value: string,
  errorCode: string | null,
  eventId: string,
  at: Date,
): Promise<string> {
  const result = await client.query<{ note: string }>(
    'SELECT apply_message_status($1, $2, $3, $4, $5, $6) AS note',
    [provider, messageId, value, errorCode, eventId, at],
  );
  return result.rows[0]?.note ?? '';
}

async function inbound(
  client: Parameters<Handler>[0],
  provider: string,
  channel: 'sms' | 'whatsapp',
  messageId: string,
  from: string,
  body: string,
  at: Date,
): Promise<string> {
  const result = await client.query<{ note: string }>(
    'SELECT record_inbound_message($1, $2, $3, $4, $5, $6) AS note',
    [provider, channel, messageId, from, body, at],
  );
  return `inbound message: ${result.rows[0]?.note ?? ''}`;
}

/** Seconds since the epoch as sent by Meta ("1700000100"), else now. */
function unixTime(value: string | null): Date {
  const seconds = Number(value);
  return value !== null && Number.isFinite(seconds) && seconds > 0 ? new Date(seconds * 1000) : new Date();
}

export const twilioStatus: Handler = (client, event) =>
  status(
    client,
    'twilio',
    field(event.payload, 'MessageSid'),
    field(event.payload, 'MessageStatus'),
    optionalField(event.payload, 'ErrorCode'),
    event.eventId,
    new Date(),
  );

export const twilioInbound: Handler = (client, event) => {
  const from = field(event.payload, 'From');
  return inbound(
    client,
    'twilio',
    from.startsWith('whatsapp:') ? 'whatsapp' : 'sms',
    field(event.payload, 'MessageSid'),
    from,
    optionalField(event.payload, 'Body') ?? '',
    new Date(),
  );
};

export const whatsappStatus: Handler = (client, event) => {
  const item = event.payload.status;
  const errors = (item as { errors?: Array<{ code?: unknown }> }).errors;
  const code = Array.isArray(errors) && errors[0]?.code !== undefined ? String(errors[0].code) : null;
  return status(
    client,
    'whatsapp',
    field(item, 'id'),
    field(item, 'status'),
    code,
    event.eventId,
    unixTime(optionalField(item, 'timestamp')),
  );
};

export const whatsappInbound: Handler = (client, event) => {
  const message = event.payload.message;
  const text =
    optionalField(message, 'text.body') ??
    optionalField(message, 'button.text') ??
    optionalField(message, 'interactive.button_reply.title') ??
    optionalField(message, 'interactive.list_reply.title') ??
    '';
  return inbound(
    client,
    'whatsapp',
    'whatsapp',
    field(message, 'id'),
    field(message, 'from'),
    text,
    unixTime(optionalField(message, 'timestamp')),
  );
};
