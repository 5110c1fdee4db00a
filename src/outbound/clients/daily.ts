// Daily REST API: private rooms under a name the caller derives from the appointment, and
// per-participant meeting tokens. Daily has no idempotency header; the deterministic name is the
// key: a create that finds the name taken (our own earlier attempt whose reply was lost) adopts
// the room, so a retried create still leaves one room.
import type { ProviderCallError } from './errors.js';
import {
  answerFailure,
  exchange,
  invalidResponse,
  isObject,
  type ProviderAnswer,
  type ProviderRequest,
  wholeMilliseconds,
} from './http.js';

export interface DailyClientOptions {
  apiKey: string;
  /** DAILY_API_BASE, e.g. `https://api.daily.co/v1`. */
  apiBase: string;
  /** Per call, below the outbox worker's lease. */
  timeoutMs: number;
}

/** When the room may be joined, in Unix seconds (Daily's unit; milliseconds are refused). */
export interface RoomWindow {
  nbf: number;
  exp: number;
}

export interface DailyRoom {
  name: string;
  url: string;
  privacy: string;
  nbf: number | null;
  exp: number | null;
}

export interface MeetingTokenRequest {
  roomName: string;
  /** Always set: a token without `exp` never expires. */
  exp: number;
  nbf?: number;
  userId?: string;
  userName?: string;
  /** Owner rights (admitting knockers): the practitioner only. */
  isOwner: boolean;
}

const ROOM_NAME = /^[A-Za-z0-9_-]{1,128}$/;
// Seconds stay below 1e11 until the year 5138; a millisecond value is far above it.
const MAX_UNIX_SECONDS = 1e11;

function requireSeconds(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value >= MAX_UNIX_SECONDS) {
    throw new RangeError(`${name} must be a Unix time in whole seconds`);
  }
}

function requireRoomName(name: string): void {
  if (!ROOM_NAME.test(name)) throw new RangeError('Daily room names are 1-128 of [A-Za-z0-9_-]');
}

/** The properties every Carebook room has: only a token holder gets in, one patient and one practitioner. */
function roomProperties(window: RoomWindow) {
  return {
    nbf: window.nbf,
    exp: window.exp,
    eject_at_room_exp: true,
    enable_knocking: true,
    max_participants: 2,
  };
}

function toRoom(body: unknown): DailyRoom | null {
  if (!isObject(body) || typeof body.name !== 'string' || typeof body.url !== 'string') return null;
  const config = isObject(body.config) ? body.config : {};
  return {
    name: body.name,
    url: body.url,
    privacy: typeof body.privacy === 'string' ? body.privacy : 'unknown',
    nbf: typeof config.nbf === 'number' ? config.nbf : null,
    exp: typeof config.exp === 'number' ? config.exp : null,
  };
}

export class DailyClient {
  readonly #apiKey: string;
  readonly #base: string;
  readonly #timeoutMs: number;

  constructor(options: DailyClientOptions) {
    this.#apiKey = options.apiKey;
    this.#base = options.apiBase.replace(/\/+$/, '');
    this.#timeoutMs = wholeMilliseconds(options.timeoutMs);
  }

  /**
   * Creates the private room, or adopts it when the name already exists (a retry after a lost
   * reply). Its two or three requests share one `AbortSignal.timeout(timeoutMs)`.
   */
  async createPrivateRoom(name: string, window: RoomWindow): Promise<{ room: DailyRoom; adopted: boolean }> {
    requireRoomName(name);
    requireSeconds('nbf', window.nbf);
    requireSeconds('exp', window.exp);
    const signal = AbortSignal.timeout(this.#timeoutMs);
    const body = { name, privacy: 'private', properties: roomProperties(window) };
    const request = this.#request('createPrivateRoom', 'POST', '/rooms', signal, body);
    const answer = await exchange(request);
    if (answer.status >= 200 && answer.status < 300)
      return { room: this.#room(request, answer), adopted: false };

    const failure = classify(request, answer);
    // Daily documents no distinct body for a taken name, so any refusal of the request itself is
    // checked against the room that may already be ours.
    if (failure.reason !== 'invalid_request') throw failure;
    const existing = await this.#getRoom(name, signal);
    if (existing === null) throw failure;
    if (existing.privacy !== 'private') {
      // Never adopt a room anyone with the link can join.
      throw answerFailure(request, answer, failure.providerCode, {
        classification: 'permanent',
        reason: 'unexpected_state',
      });
    }
    // Restate every property: the earlier attempt may have asked for another window.
    return { room: await this.#updateRoomWindow(name, window, signal), adopted: true };
  }

  /** The room, or null when Daily has none of that name. */
  getRoom(name: string): Promise<DailyRoom | null> {
    requireRoomName(name);
    return this.#getRoom(name, AbortSignal.timeout(this.#timeoutMs));
  }

  /** Moves the room's window (a reschedule) and restates the rest of its properties. */
  updateRoomWindow(name: string, window: RoomWindow): Promise<DailyRoom> {
    requireRoomName(name);
    requireSeconds('nbf', window.nbf);
    requireSeconds('exp', window.exp);
    return this.#updateRoomWindow(name, window, AbortSignal.timeout(this.#timeoutMs));
  }

  async #getRoom(name: string, signal: AbortSignal): Promise<DailyRoom | null> {
    const request = this.#request('getRoom', 'GET', `/rooms/${name}`, signal);
    const answer = await exchange(request);
    if (answer.status === 404) return null;
    if (answer.status >= 300) throw classify(request, answer);
    return this.#room(request, answer);
  }

  async #updateRoomWindow(name: string, window: RoomWindow, signal: AbortSignal): Promise<DailyRoom> {
    const body = { privacy: 'private', properties: roomProperties(window) };
    const request = this.#request('updateRoomWindow', 'POST', `/rooms/${name}`, signal, body);
    const answer = await exchange(request);
    if (answer.status >= 300) throw classify(request, answer);
    return this.#room(request, answer);
  }

  /** A 404 means the room is already gone (deleted, or expired and collected): the goal is met. */
  async deleteRoom(name: string): Promise<'deleted' | 'already_gone'> {
    requireRoomName(name);
    const request = this.#request(
      'deleteRoom',
      'DELETE',
      `/rooms/${name}`,
      AbortSignal.timeout(this.#timeoutMs),
    );
    const answer = await exchange(request);
    if (answer.status === 404) return 'already_gone';
    if (answer.status >= 300) throw classify(request, answer);
    return 'deleted';
  }

  /** A token for one participant of one room; never stored, never sent by message. */
  async createMeetingToken(token: MeetingTokenRequest): Promise<string> {
    requireRoomName(token.roomName);
    requireSeconds('exp', token.exp);
    if (token.nbf !== undefined) requireSeconds('nbf', token.nbf);
    const properties = {
      room_name: token.roomName,
      exp: token.exp,
      nbf: token.nbf,
      user_id: token.userId,
      user_name: token.userName,
      is_owner: token.isOwner,
      eject_at_token_exp: true,
    };
    const signal = AbortSignal.timeout(this.#timeoutMs);
    const request = this.#request('createMeetingToken', 'POST', '/meeting-tokens', signal, { properties });
    const answer = await exchange(request);
    if (answer.status >= 300) throw classify(request, answer);
    if (!isObject(answer.body) || typeof answer.body.token !== 'string') {
      throw invalidResponse(request, answer.status);
    }
    return answer.body.token;
  }

  #request(
    operation: string,
    method: ProviderRequest['method'],
    path: string,
    signal: AbortSignal,
    body?: object,
  ): ProviderRequest {
    return {
      provider: 'daily',
      operation,
      method,
      url: `${this.#base}${path}`,
      headers: {
        authorization: `Bearer ${this.#apiKey}`,
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      // Every Daily call is safe to repeat: creates are keyed by the room name, the rest by nature.
      unanswered: 'retryable',
      signal,
    };
  }

  #room(request: ProviderRequest, answer: ProviderAnswer): DailyRoom {
    const room = toRoom(answer.body);
    if (room === null) throw invalidResponse(request, answer.status);
    return room;
  }
}

/** Daily's `error` string (docs.daily.co "Errors") is kept as the provider code; statuses say the rest. */
function classify(request: ProviderRequest, answer: ProviderAnswer): ProviderCallError {
  const code = isObject(answer.body) && typeof answer.body.error === 'string' ? answer.body.error : null;
  return answerFailure(request, answer, code);
}
