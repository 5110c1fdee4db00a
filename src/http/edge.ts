// The HTTP edge: what a process facing the internet needs before any route runs.
//   * Timeouts that really cut a stalled or trickled request (headers or body): Fastify copies its
//     own top-level requestTimeout onto the Node server after creating it, so that is where the
//     limit goes; Node checks it (and headersTimeout, never larger) every connectionsCheckingInterval.
//   * A cap on open connections per process (Node drops the ones over it at once).
//   * Parser and timeout errors (400, 408, 431) answered as problem+json with Connection: close:
//     Node destroys the socket afterwards, so a keep-alive client must not reuse it. The router's
//     own refusals (a path parameter over 100 characters, bad %-encoding) as problem+json too.
//   * Request ids: a well-formed incoming x-request-id is kept, otherwise a UUID (unique across
//     replicas); echoed on every response, in every problem body (errors.ts) and every log line.
//   * Security headers: nosniff everywhere; no-store unless a route chose its own caching.
//   * CORS only for the configured origins (no origins: no CORS headers, preflights get 405).
//   * Rate limits (@fastify/rate-limit, counted per process): failed authentications and bad
//     webhook signatures per client address, booking attempts per token subject (booking routes).
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import cors from '@fastify/cors';
import rateLimit, { type RateLimitOptions } from '@fastify/rate-limit';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { HttpConfig } from '../config.js';
import { type ProblemError, problem, problemBody, sendProblem } from './errors.js';

const REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** Options for Fastify() itself: timeouts, proxies, request ids, the client-error answer. */
export function edgeServerOptions(http: HttpConfig) {
  const timeoutMs = http.requestTimeoutSeconds * 1000;
  return {
    requestTimeout: timeoutMs,
    http: {
      headersTimeout: Math.min(timeoutMs, 60_000),
      // How often Node looks for expired requests: a stall is cut at most this much late.
      connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.floor(timeoutMs / 4))),
    },
    trustProxy: http.trustProxy.length > 0 ? [...http.trustProxy] : false,
    requestIdHeader: false as const,
    genReqId: (request: IncomingMessage) => {
      const incoming = request.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
    clientErrorHandler: answerClientError,
    frameworkErrors: answerRouterError,
  };
}

/**
 * The router refuses a URL before any route or hook runs (Fastify would answer its own JSON, 414
 * for a long parameter): every path parameter here is short (ids, provider names), so too long or
 * badly encoded is an invalid path value.
 */
function answerRouterError(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  reply.header('x-request-id', reply.request.id);
  reply.header('x-content-type-options', 'nosniff');
  reply.header('cache-control', 'no-store');
  const detail =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? 'A path segment is too long (at most 100 characters).'
      : 'The path is not validly %-encoded.';
  sendProblem(reply, problem('validation_error', detail));
}

/** Node's clientError (no Fastify request exists yet): a problem+json answer, then close. */
function answerClientError(this: FastifyInstance, error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const answer =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? problem('request_timeout')
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? problem('headers_too_large')
        : problem('bad_request', 'The request could not be parsed.');
  const requestId = randomUUID();
  this.log.info({ requestId, code: answer.code, parserError: error.code }, 'connection refused');
  if (socket.writable) {
    const body = JSON.stringify(problemBody(answer, requestId));
    socket.write(
      `HTTP/1.1 ${answer.status} ${answer.title}\r\nContent-Type: application/problem+json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${requestId}\r\n` +
        `X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

/** Counts failures (not requests) per key and refuses a key that reached its maximum. */
export interface FailureLimiter {
  /** 429 (ProblemError) when this request's source already failed `max` times in the window. */
  refuseIfExceeded(request: FastifyRequest): Promise<void>;
  countFailure(request: FastifyRequest): Promise<void>;
}

export interface EdgeLimiters {
  authFailures: FailureLimiter | null;
  webhookFailures: FailureLimiter | null;
  /** Route `config.rateLimit` for booking routes, or undefined when bookings are not limited. */
  bookingRouteLimit: RateLimitOptions | undefined;
}

function tooManyRequests(retryAfterSeconds: number, detail: string): ProblemError {
  return problem(
    'rate_limited',
    detail,
    {},
    { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) },
  );
}

export async function registerEdge(app: FastifyInstance, http: HttpConfig): Promise<EdgeLimiters> {
  app.server.maxConnections = http.maxConnections;
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    return payload;
  });
  if (http.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: [...http.corsOrigins],
      methods: ['GET', 'POST', 'PUT', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'idempotency-key', 'x-request-id'],
      exposedHeaders: ['idempotent-replayed', 'x-request-id', 'retry-after'],
      maxAge: 600,
    });
  }

  const windowMs = http.rateLimits.windowSeconds * 1000;
  await app.register(rateLimit, {
    global: false,
    timeWindow: windowMs,
    errorResponseBuilder: (_request, context) =>
      tooManyRequests(context.ttl / 1000, `At most ${context.max} per ${http.rateLimits.windowSeconds} s.`),
  });
  const failureLimiter = (max: number, what: string): FailureLimiter | null => {
    if (max === 0) return null;
    const check = app.createRateLimit({ max, timeWindow: windowMs, keyGenerator: (r) => `${what}:${r.ip}` });
    return {
      refuseIfExceeded: async (request) => {
        const status = await check(request, { increment: false });
        if (!status.isAllowed && status.remaining === 0) {
          throw tooManyRequests(
            status.ttlInSeconds,
            `${max} ${what} from this address within ${http.rateLimits.windowSeconds} s; wait and try again.`,
          );
        }
      },
      countFailure: async (request) => {
        await check(request);
      },
    };
  };
  return {
    authFailures: failureLimiter(http.rateLimits.authFailures, 'failed authentications'),
    webhookFailures: failureLimiter(http.rateLimits.webhookFailures, 'webhooks with a bad signature'),
    bookingRouteLimit:
      http.rateLimits.bookings === 0
        ? undefined
        : {
            max: http.rateLimits.bookings,
            timeWindow: windowMs,
            // After authentication (an onRequest hook of the API scope): per token subject.
            keyGenerator: (request: FastifyRequest) => `booking:${request.principal?.sub ?? request.ip}`,
          },
  };
}
