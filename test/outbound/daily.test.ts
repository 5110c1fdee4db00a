// The Daily client against the fake Daily over real sockets: private rooms, adoption of a room a
// lost reply already created (one room per name), deletes that tolerate a missing room, tokens
// that always name their room and expiry, and the classification of every fault.
import { randomBytes } from 'node:crypto';
import { jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Fakes, startFakes } from '../../src/dev/fakes/index.js';
import { DailyClient, type RoomWindow } from '../../src/outbound/clients/daily.js';
import { failure, rendered } from '../helpers/outbound.js';

const API_KEY = 'daily_test_key_0123456789abcdef';
let fakes: Fakes<{ daily: { apiKey: string } }>;
let daily: DailyClient;

beforeAll(async () => {
  fakes = await startFakes({ daily: { apiKey: API_KEY } });
  daily = new DailyClient({ apiKey: API_KEY, apiBase: fakes.urls.daily, timeoutMs: 10_000 });
});
afterAll(() => fakes.stop());

const CREATE = 'POST /v1/rooms' as const;
const roomName = () => `cb-${randomBytes(8).toString('hex')}`;
const hour = () => Math.floor(Date.now() / 1000) + 3600;
const windowAt = (start: number): RoomWindow => ({ nbf: start - 600, exp: start + 3600 });

describe('rooms', () => {
  it('creates a private two-person room with knocking that ejects at its expiry', async () => {
    const name = roomName();
    const window = windowAt(hour());
    const { room, adopted } = await daily.createPrivateRoom(name, window);
    expect(adopted).toBe(false);
    expect(room).toMatchObject({ name, privacy: 'private', nbf: window.nbf, exp: window.exp });
    const stored = fakes.daily.rooms().find((item) => item.name === name);
    expect(stored?.config).toEqual({
      nbf: window.nbf,
      exp: window.exp,
      eject_at_room_exp: true,
      enable_knocking: true,
      max_participants: 2,
    });
  });

  it('adopts the room when a create is retried after its reply was dropped: one room', async () => {
    const name = roomName();
    const window = windowAt(hour());
    fakes.daily.inject(CREATE, { kind: 'drop_after_work' });
    const error = await failure(daily.createPrivateRoom(name, window));
    expect(error).toMatchObject({ provider: 'daily', classification: 'retryable', reason: 'network' });

    const { room, adopted } = await daily.createPrivateRoom(name, window);
    expect(adopted).toBe(true);
    expect(room.name).toBe(name);
    expect(fakes.daily.roomHistory(name)).toEqual({ created: 1, deleted: 0 });
  });

  it('adopts after a 500 that followed the work, and moves the window to the one asked for', async () => {
    const name = roomName();
    fakes.daily.inject(CREATE, { kind: 'error_after_work' });
    const error = await failure(daily.createPrivateRoom(name, windowAt(hour())));
    expect(error).toMatchObject({ classification: 'retryable', reason: 'server_error', status: 500 });

    const moved = windowAt(hour() + 86_400);
    const { room, adopted } = await daily.createPrivateRoom(name, moved);
    expect(adopted).toBe(true);
    expect(room).toMatchObject({ nbf: moved.nbf, exp: moved.exp });
    expect(fakes.daily.roomHistory(name).created).toBe(1);
  });

  it('never adopts a public room of the same name', async () => {
    const name = roomName();
    const response = await fetch(`${fakes.urls.daily}/rooms`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name, privacy: 'public' }),
    });
    expect(response.status).toBe(200);
    const error = await failure(daily.createPrivateRoom(name, windowAt(hour())));
    expect(error).toMatchObject({ classification: 'permanent', reason: 'unexpected_state' });
    expect(fakes.daily.rooms().find((room) => room.name === name)?.privacy).toBe('public');
  });

  it('gets, moves and deletes a room; a second delete finds it already gone', async () => {
    const name = roomName();
    expect(await daily.getRoom(name)).toBeNull();
    await daily.createPrivateRoom(name, windowAt(hour()));
    const moved = windowAt(hour() + 7200);
    expect(await daily.updateRoomWindow(name, moved)).toMatchObject({ nbf: moved.nbf, exp: moved.exp });
    expect(await daily.getRoom(name)).toMatchObject({ name, nbf: moved.nbf });
    expect(await daily.deleteRoom(name)).toBe('deleted');
    expect(await daily.deleteRoom(name)).toBe('already_gone');
    expect(fakes.daily.roomHistory(name)).toEqual({ created: 1, deleted: 1 });
    const error = await failure(daily.updateRoomWindow(name, moved));
    expect(error).toMatchObject({
      classification: 'permanent',
      reason: 'not_found',
      providerCode: 'not-found',
    });
  });

  it('refuses millisecond timestamps before sending anything', async () => {
    const before = fakes.daily.requests(CREATE);
    await expect(
      daily.createPrivateRoom(roomName(), { nbf: Date.now(), exp: Date.now() + 1000 }),
    ).rejects.toThrow(RangeError);
    expect(fakes.daily.requests(CREATE)).toBe(before);
  });
});

describe('meeting tokens', () => {
  it('mints a token bound to the room, with an expiry, owner rights only when asked', async () => {
    const name = roomName();
    await daily.createPrivateRoom(name, windowAt(hour()));
    const exp = hour();
    const token = await daily.createMeetingToken({
      roomName: name,
      exp,
      userId: 'practitioner-1',
      isOwner: true,
    });
    const { payload } = await jwtVerify(token, new TextEncoder().encode(API_KEY));
    expect(payload).toMatchObject({ r: name, exp, ud: 'practitioner-1', o: true, ejt: true });
    const patient = await daily.createMeetingToken({ roomName: name, exp, isOwner: false });
    expect((await jwtVerify(patient, new TextEncoder().encode(API_KEY))).payload).toMatchObject({
      r: name,
      o: false,
    });
    expect(
      fakes.daily
        .tokens()
        .slice(-2)
        .every((issued) => issued.room_name === name && issued.exp === exp),
    ).toBe(true);
  });
});

describe('faults', () => {
  it('reads the rate limit and its Retry-After', async () => {
    fakes.daily.inject(CREATE, { kind: 'rate_limit', retryAfterSeconds: 3 }, { kind: 'rate_limit' });
    const name = roomName();
    expect(await failure(daily.createPrivateRoom(name, windowAt(hour())))).toMatchObject({
      classification: 'rate_limited',
      providerCode: 'rate-limit-error',
      retryAfterMs: 3000,
    });
    expect(await failure(daily.createPrivateRoom(name, windowAt(hour())))).toMatchObject({
      classification: 'rate_limited',
      retryAfterMs: null,
    });
    expect(fakes.daily.roomHistory(name).created).toBe(0);
  });

  it('honours a client timeout shorter than the hang, as retryable', async () => {
    const quick = new DailyClient({ apiKey: API_KEY, apiBase: fakes.urls.daily, timeoutMs: 1000 });
    fakes.daily.inject('DELETE /v1/rooms/:name', { kind: 'hang' });
    const error = await failure(quick.deleteRoom(roomName()));
    expect(error).toMatchObject({ classification: 'retryable', reason: 'timeout', status: null });
    await vi.waitFor(() => expect(fakes.daily.hanging()).toBe(0), { timeout: 10_000 });
  });

  it('bounds the lookup behind an adoption by the same timeout', async () => {
    const name = roomName();
    const window = windowAt(hour());
    await daily.createPrivateRoom(name, window);
    const quick = new DailyClient({ apiKey: API_KEY, apiBase: fakes.urls.daily, timeoutMs: 1000 });
    fakes.daily.inject('GET /v1/rooms/:name', { kind: 'hang' });
    const error = await failure(quick.createPrivateRoom(name, window));
    expect(error).toMatchObject({ operation: 'getRoom', classification: 'retryable', reason: 'timeout' });
    expect(fakes.daily.roomHistory(name).created).toBe(1);
  });

  it('reports a bad key or a forbidden resource as a permanent configuration problem', async () => {
    const wrongKey = 'daily_wrong_key_fedcba9876543210';
    const wrong = new DailyClient({ apiKey: wrongKey, apiBase: fakes.urls.daily, timeoutMs: 10_000 });
    const error = await failure(wrong.getRoom(roomName()));
    expect(error).toMatchObject({ classification: 'permanent', reason: 'provider_config', status: 401 });
    expect(rendered(error)).not.toContain(wrongKey);
    fakes.daily.inject('POST /v1/meeting-tokens', { kind: 'reject', code: 'forbidden-error' });
    expect(
      await failure(daily.createMeetingToken({ roomName: roomName(), exp: hour(), isOwner: false })),
    ).toMatchObject({ classification: 'permanent', reason: 'provider_config', status: 403 });
  });
});
