// Twilio (SMS, and WhatsApp through Twilio) → notifications and inbound messages.
import { applyMessageStatus, recordInboundMessage } from './messaging.js';
import { field, type Handler, optionalField } from './types.js';

export const twilioStatus: Handler = (client, event) =>
  applyMessageStatus(client, event, {
    messageId: field(event.payload, 'MessageSid'),
    status: field(event.payload, 'MessageStatus'),
    errorCode: optionalField(event.payload, 'ErrorCode'),
    at: new Date(),
  });

export const twilioInbound: Handler = (client, event) => {
  const from = field(event.payload, 'From');
  return recordInboundMessage(client, event, {
    channel: from.startsWith('whatsapp:') ? 'whatsapp' : 'sms',
    messageId: field(event.payload, 'MessageSid'),
    from,
    body: optionalField(event.payload, 'Body') ?? '',
    at: new Date(),
  });
};
