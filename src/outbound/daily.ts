// Daily, outbound: a private room per confirmed video appointment, open from shortly before the
// start to shortly after the end (then everyone is ejected), knocking as the waiting room, two
// participants; moved on reschedule, deleted on cancel and completion (deletes on their own, lower
// rate limit). The room's name is a keyed hash of the appointment — unguessable, and the same on
// every retry, which is what makes a create idempotent (a taken name is adopted). Meeting tokens
// are minted per participant when they open the visit (routes.ts), never stored or sent.
import { createHmac } from 'node:crypto';
import type { EnvVar } from '../env-vars.js';
import { RetryLaterError } from '../queue/kind.js';
import { DailyClient, type DailyClientOptions } from './clients/daily.js';
import { CLIENT_TIMEOUT_MS, type Delivery, type Performer } from './outbox.js';
import type { OutboundProvider, Reader } from './provider.js';
import { roomWindow } from './video.js';

export const DAILY_VARIABLES: readonly EnvVar[] = [
  {
    name: 'DAILY_API_KEY',
    default: '(unset: no video rooms; their rows wait)',
    description:
      'Daily REST API key: creates, moves and deletes the private rooms of video visits and mints meeting tokens. Unset: those outbox rows stay pending and /readyz says so.',
  },
  {
    name: 'DAILY_API_BASE',
    default: 'https://api.daily.co/v1',
    description: "Daily's REST API base URL: a local fake in development and tests.",
  },
];

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** `cb` and 20 base32 characters of HMAC-SHA256(key, appointment id): 22 characters, [a-z2-7]. */
export function roomNameFor(key: string, appointmentId: string): string {
  const digest = createHmac('sha256', key).update(`carebook-room:${appointmentId}`).digest();
  let bits = 0;
  let value = 0;
  let name = 'cb';
  for (const byte of digest) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && name.length < 22) {
      name += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return name;
}

const IN_PROGRESS = ['pending', 'in_flight', 'needs_reconcile'];

function roomCreate(client: DailyClient, key: string): Performer {
  return {
    kind: 'room',
    provider: 'daily',
    settings: { rateLimit: { max: 10, perSeconds: 1 } },
    freeze: (delivery) =>
      typeof delivery.payload.room_name === 'string'
        ? null
        : { room_name: roomNameFor(key, delivery.appointment.id) },
    async perform(delivery) {
      const { appointment } = delivery;
      if (appointment.status !== 'confirmed' || appointment.visitType !== 'video') {
        return {
          status: 'cancelled',
          note: `not needed: the appointment is ${appointment.status} (${appointment.visitType})`,
        };
      }
      const name = String(delivery.payload.room_name);
      const { room, adopted } = await client.createPrivateRoom(name, roomWindow(appointment));
      return {
        status: 'succeeded',
        ref: name,
        note: adopted ? 'room adopted (an earlier attempt made it)' : 'room created',
        payload: { room_url: room.url },
      };
    },
  };
}

function roomUpdate(client: DailyClient): Performer {
  return {
    kind: 'room_update',
    provider: 'daily',
    settings: { rateLimit: { max: 10, perSeconds: 1 } },
    async perform(delivery: Delivery) {
      const { room } = delivery;
      if (room.status === 'pending') {
        return { status: 'succeeded', note: 'the room is not made yet: it will be made with the new times' };
      }
      if (IN_PROGRESS.includes(room.status ?? '')) throw new RetryLaterError('the room is being created', 15);
      if (room.status !== 'succeeded' || room.name === null)
        return { status: 'succeeded', note: 'no room to move' };
      await client.updateRoomWindow(room.name, roomWindow(delivery.appointment));
      return { status: 'succeeded', ref: room.name, note: 'room moved' };
    },
  };
}

function roomDelete(client: DailyClient, key: string): Performer {
  return {
    kind: 'room_delete',
    provider: 'daily',
    // Daily's deletes: about 2 a second (its rate-limit docs).
    settings: { rateLimit: { max: 2, perSeconds: 1 } },
    async perform(delivery) {
      const { room } = delivery;
      if (IN_PROGRESS.includes(room.status ?? '')) throw new RetryLaterError('the room is being created', 15);
      if (room.status === null) return { status: 'succeeded', note: 'no room was made' };
      // A create that ended cancelled or failed may still have made the room before its answer
      // was lost: the name is known (the same on every attempt), so it is deleted all the same.
      const name = room.name ?? roomNameFor(key, delivery.appointment.id);
      const result = await client.deleteRoom(name);
      return {
        status: 'succeeded',
        ref: name,
        note: result === 'deleted' ? 'room deleted' : 'room already gone',
      };
    },
  };
}

export const dailyOutbound: OutboundProvider<DailyClientOptions> = {
  name: 'daily',
  delivers: ['room', 'room_update', 'room_delete'],
  variables: DAILY_VARIABLES,
  read(env: Reader) {
    const apiKey = env.read('DAILY_API_KEY');
    const apiBase = env.url('DAILY_API_BASE', 'https://api.daily.co/v1');
    return apiKey === undefined ? null : { apiKey, apiBase, timeoutMs: CLIENT_TIMEOUT_MS };
  },
  performers(options) {
    const client = new DailyClient(options);
    return [roomCreate(client, options.apiKey), roomUpdate(client), roomDelete(client, options.apiKey)];
  },
  services(options) {
    const client = new DailyClient(options);
    return { meetingTokens: { mint: (token) => client.createMeetingToken(token) } };
  },
};
