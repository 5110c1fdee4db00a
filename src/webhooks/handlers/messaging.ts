// What the messaging providers' handlers share: a delivery callback and a patient's message, each
// one SQL call (00016) keyed by the event's integration and provider. Message bodies and phone
// numbers go to the database only, never to logs.
import type { Handler } from './types.js';

type Client = Parameters<Handler>[0];

export interface MessageStatus {
  messageId: string;
  status: string;
  errorCode: string | null;
  at: Date;
}

export interface InboundMessage {
  channel: 'sms' | 'whatsapp';
  messageId: string;
  from: string;
  body: string;
  at: Date;
}

export async function applyMessageStatus(
  client: Client,
  event: Parameters<Handler>[1],
  callback: MessageStatus,
): Promise<string> {
  const result = await client.query<{ note: string }>(
    'SELECT apply_message_status($1, $2, $3, $4, $5, $6, $7) AS note',
    [
      event.webhookId,
      event.provider,
      callback.messageId,
      callback.status,
      callback.errorCode,
      event.eventId,
      callback.at,
    ],
  );
  return result.rows[0]?.note ?? '';
}

export async function recordInboundMessage(
  client: Client,
  event: Parameters<Handler>[1],
  message: InboundMessage,
): Promise<string> {
  const result = await client.query<{ note: string }>(
    'SELECT record_inbound_message($1, $2, $3, $4, $5, $6, $7) AS note',
    [
      event.webhookId,
      event.provider,
      message.channel,
      message.messageId,
      message.from,
      message.body,
      message.at,
    ],
  );
  return `inbound message: ${result.rows[0]?.note ?? ''}`;
}

/** Seconds since the epoch as a provider sends them ("1700000100"), else now. */
export function unixTime(value: string | null): Date {
  const seconds = Number(value);
  return value !== null && Number.isFinite(seconds) && seconds > 0 ? new Date(seconds * 1000) : new Date();
}
