// WhatsApp Cloud API (Meta) → notifications and inbound messages.
import { outboxOfCallbackData } from '../../outbound/whatsapp.js';
import { applyMessageStatus, recordInboundMessage, unixTime } from './messaging.js';
import { field, type Handler, optionalField } from './types.js';

export const whatsappStatus: Handler = async (client, event) => {
  const item = event.payload.status;
  const errors = (item as { errors?: Array<{ code?: unknown }> }).errors;
  // A message Carebook sent names its outbox row: the callback is how a send whose reply was lost
  // learns its message id (and never goes twice).
  const outbox = outboxOfCallbackData(
    (item as { biz_opaque_callback_data?: unknown }).biz_opaque_callback_data,
  );
  if (outbox !== null) {
    await client.query('SELECT link_message_to_outbox($1, $2, $3, $4)', [
      event.webhookId,
      outbox,
      event.provider,
      field(item, 'id'),
    ]);
  }
  return applyMessageStatus(client, event, {
    messageId: field(item, 'id'),
    status: field(item, 'status'),
    errorCode: Array.isArray(errors) && errors[0]?.code !== undefined ? String(errors[0].code) : null,
    at: unixTime(optionalField(item, 'timestamp')),
  });
};

export const whatsappInbound: Handler = (client, event) => {
  const message = event.payload.message;
  const text =
    optionalField(message, 'text.body') ??
    optionalField(message, 'button.text') ??
    optionalField(message, 'interactive.button_reply.title') ??
    optionalField(message, 'interactive.list_reply.title') ??
    '';
  return recordInboundMessage(client, event, {
    channel: 'whatsapp',
    messageId: field(message, 'id'),
    from: field(message, 'from'),
    body: text,
    at: unixTime(optionalField(message, 'timestamp')),
  });
};
