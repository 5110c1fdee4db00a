// A fake of Daily's REST API (v1) for rooms and meeting tokens: Bearer API-key auth, Daily's error
// bodies (`{error, info}`, docs.daily.co "Errors"), a 4xx for a name already taken, a 404 for a
// missing room, and tokens that are HS256 JWTs signed with the API key, as self-signed Daily
// tokens are, so tests can read what a token grants.
import { randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { SignJWT } from 'jose';
import { createFake, type FakeServer, type Reply } from './server.js';

export type DailyEndpoint =
  | 'POST /v1/rooms'
  | 'GET /v1/rooms/:name'
  | 'POST /v1/rooms/:name'
  | 'DELETE /v1/rooms/:name'
  | 'POST /v1/meeting-tokens';

export interface DailyFakeOptions {
  apiKey: string;
}

export interface FakeRoom {
  id: string;
  name: string;
  api_created: true;
  privacy: string;
  url: string;
  created_at: string;
  config: Record<string, unknown>;
}

/** What a token the fake issued grants, in Daily's own property names. */
export type IssuedToken = Record<string, unknown>;

export interface DailyFake extends FakeServer<DailyEndpoint> {
  rooms(): FakeRoom[];
  /** How often a room of this name was created and deleted: "one room" means created 1. */
  roomHistory(name: string): { created: number; deleted: number };
  tokens(): IssuedToken[];
}

const ROOM_PROPERTIES = new Set([
  'nbf',
  'exp',
  'eject_at_room_exp',
  'enable_knocking',
  'max_participants',
  'enable_prejoin_ui',
  'enable_chat',
  'enable_screenshare',
  'enable_recording',
  'start_video_off',
  'start_audio_off',
]);
const TOKEN_PROPERTIES = new Set([
  'room_name',
  'user_name',
  'user_id',
  'is_owner',
  'nbf',
  'exp',
  'eject_at_token_exp',
  'eject_after_elapsed',
]);
const ERROR_STATUS: Record<string, number> = {
  'authentication-error': 401,
  'authorization-header-error': 401,
  'forbidden-error': 403,
  'not-found': 404,
  'rate-limit-error': 429,
  'server-error': 500,
};
const NAME = /^[A-Za-z0-9_-]{1,128}$/;

const dailyError = (
  status: number,
  error: string,
  info: string,
  headers?: Record<string, string>,
): Reply => ({
  status,
  body: { error, info },
  headers,
});

type Json = Record<string, unknown>;
const objectOf = (value: unknown): Json | null =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : null;

/** Daily refuses properties it does not know, and numbers where it wants numbers. */
function readProperties(value: unknown, allowed: Set<string>): Json | Reply {
  if (value === undefined) return {};
  const properties = objectOf(value);
  if (properties === null) return dailyError(400, 'invalid-request-error', 'properties must be an object');
  for (const [key, item] of Object.entries(properties)) {
    if (!allowed.has(key)) return dailyError(400, 'invalid-request-error', `unknown property ${key}`);
    if (['nbf', 'exp', 'max_participants'].includes(key) && typeof item !== 'number') {
      return dailyError(400, 'invalid-request-error', `${key} must be a number`);
    }
  }
  return properties;
}

const isReply = (value: Json | Reply): value is Reply => 'status' in value && 'body' in value;

export async function startDailyFake(options: DailyFakeOptions): Promise<DailyFake> {
  const rooms = new Map<string, FakeRoom>();
  const history = new Map<string, { created: number; deleted: number }>();
  const tokens: IssuedToken[] = [];
  const key = new TextEncoder().encode(options.apiKey);
  const domainId = randomUUID();
  const fake = createFake<DailyEndpoint>({
    rateLimited: (retryAfterSeconds) =>
      dailyError(
        429,
        'rate-limit-error',
        'Too many requests',
        retryAfterSeconds === undefined ? undefined : { 'retry-after': String(retryAfterSeconds) },
      ),
    rejected: (code) =>
      dailyError(ERROR_STATUS[String(code)] ?? 400, String(code), `rejected by the fake: ${code}`),
    serverError: () => dailyError(500, 'server-error', 'an unexpected error occurred'),
  });
  const { app } = fake;

  app.addHook('preHandler', async (request, reply) => {
    const header = request.headers.authorization;
    if (header === undefined || !header.startsWith('Bearer ')) {
      return reply
        .code(401)
        .send({ error: 'authorization-header-error', info: 'bad Authorization header format' });
    }
    if (header !== `Bearer ${options.apiKey}`) {
      return reply.code(401).send({ error: 'authentication-error', info: 'the API key is not valid' });
    }
  });

  const nameOf = (request: FastifyRequest) => (request.params as { name: string }).name;
  const tally = (name: string) => {
    const entry = history.get(name) ?? { created: 0, deleted: 0 };
    history.set(name, entry);
    return entry;
  };

  function createRoom(body: Json): Reply {
    const name = body.name === undefined ? randomUUID().replaceAll('-', '').slice(0, 20) : body.name;
    if (typeof name !== 'string' || !NAME.test(name)) {
      return dailyError(400, 'invalid-request-error', 'name must be 1-128 of [A-Za-z0-9_-]');
    }
    if (rooms.has(name))
      return dailyError(400, 'invalid-request-error', `a room named ${name} already exists`);
    const properties = readProperties(body.properties, ROOM_PROPERTIES);
    if (isReply(properties)) return properties;
    const privacy = body.privacy ?? 'public';
    if (privacy !== 'public' && privacy !== 'private') {
      return dailyError(400, 'invalid-request-error', 'privacy must be public or private');
    }
    const room: FakeRoom = {
      id: randomUUID(),
      name,
      api_created: true,
      privacy,
      url: `https://carebook-fake.daily.co/${name}`,
      created_at: new Date().toISOString(),
      config: properties,
    };
    rooms.set(name, room);
    tally(name).created += 1;
    return { status: 200, body: room };
  }

  function updateRoom(name: string, body: Json): Reply {
    const room = rooms.get(name);
    if (!room) return dailyError(404, 'not-found', `room ${name} not found`);
    const properties = readProperties(body.properties, ROOM_PROPERTIES);
    if (isReply(properties)) return properties;
    if (body.privacy === 'public' || body.privacy === 'private') room.privacy = body.privacy;
    room.config = { ...room.config, ...properties };
    return { status: 200, body: room };
  }

  function deleteRoom(name: string): Reply {
    if (!rooms.delete(name)) return dailyError(404, 'not-found', `room ${name} not found`);
    tally(name).deleted += 1;
    return { status: 200, body: { deleted: true, name } };
  }

  async function createToken(body: Json): Promise<Reply> {
    const properties = readProperties(body.properties, TOKEN_PROPERTIES);
    if (isReply(properties)) return properties;
    tokens.push(properties);
    // Self-signed Daily tokens use these abbreviated claims (docs.daily.co, self-signing tokens).
    const claims: Json = {
      d: domainId,
      r: properties.room_name,
      u: properties.user_name,
      ud: properties.user_id,
    };
    claims.o = properties.is_owner === true;
    claims.ejt = properties.eject_at_token_exp === true;
    if (typeof properties.nbf === 'number') claims.nbf = properties.nbf;
    if (typeof properties.exp === 'number') claims.exp = properties.exp;
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuedAt()
      .sign(key);
    return { status: 200, body: { token } };
  }

  const bodyOf = (request: FastifyRequest) => objectOf(request.body) ?? {};
  app.post('/v1/rooms', (request, reply) =>
    fake.perform(request, reply, { work: () => createRoom(bodyOf(request)) }),
  );
  app.get('/v1/rooms/:name', (request, reply) =>
    fake.perform(request, reply, {
      work: () => {
        const room = rooms.get(nameOf(request));
        return room
          ? { status: 200, body: room }
          : dailyError(404, 'not-found', `room ${nameOf(request)} not found`);
      },
    }),
  );
  app.post('/v1/rooms/:name', (request, reply) =>
    fake.perform(request, reply, { work: () => updateRoom(nameOf(request), bodyOf(request)) }),
  );
  app.delete('/v1/rooms/:name', (request, reply) =>
    fake.perform(request, reply, { work: () => deleteRoom(nameOf(request)) }),
  );
  app.post('/v1/meeting-tokens', (request, reply) =>
    fake.perform(request, reply, { work: () => createToken(bodyOf(request)) }),
  );

  const server = await fake.listen();
  return {
    ...server,
    url: `${server.url}/v1`,
    rooms: () => [...rooms.values()],
    roomHistory: (name) => ({ ...(history.get(name) ?? { created: 0, deleted: 0 }) }),
    tokens: () => [...tokens],
  };
}
