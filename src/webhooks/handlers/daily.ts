// Daily → the video session of the appointment whose room the meeting ran in.
import { field, type Handler, PermanentEventError } from './types.js';

function eventTime(payload: unknown, name: 'start_ts' | 'end_ts'): Date {
  const seconds = Number((payload as Record<string, unknown> | undefined)?.[name]);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new PermanentEventError(`the event has no payload.${name}`);
  return new Date(seconds * 1000);
}

function videoEvent(kind: 'started' | 'ended', timestamp: 'start_ts' | 'end_ts'): Handler {
  return async (client, event) => {
    const payload = event.payload.payload;
    const result = await client.query<{ note: string }>('SELECT apply_video_event($1, $2, $3, $4) AS note', [
      event.webhookId,
      field(payload, 'room'),
      kind,
      eventTime(payload, timestamp),
    ]);
    return result.rows[0]?.note ?? '';
  };
}

export const meetingStarted = videoEvent('started', 'start_ts');
export const meetingEnded = videoEvent('ended', 'end_ts');
