// What every fake provider shares: a real HTTP server on 127.0.0.1 (a free port), per-endpoint
// fault queues, request counts, and the fault stages themselves, so that each provider module only
// states its own API and how it words errors.
import { once } from 'node:events';
import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import qs from 'qs';

/**
 * One fault, used by the next request to its endpoint:
 * - `rate_limit`: 429 with the provider's retry headers, before any work;
 * - `reject`: the provider's error for this code (e.g. Twilio 21610), before any work;
 * - `error_after_work`: the effect is recorded, then a 500 answers;
 * - `drop_after_work`: the effect is recorded, then the socket is destroyed with no answer;
 * - `hang`: no answer until the client gives up (or `releaseHangs`); with `afterWork` the effect
 *   is recorded first, else nothing happens (a Stripe key stays in flight meanwhile).
 */
export type Fault =
  | { kind: 'rate_limit'; retryAfterSeconds?: number }
  | { kind: 'reject'; code: string | number }
  | { kind: 'error_after_work' }
  | { kind: 'drop_after_work' }
  | { kind: 'hang'; afterWork?: boolean };

export interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  /** Refused before the endpoint ran (bad parameters): Stripe's idempotency layer stores nothing. */
  validation?: true;
}

/** How one provider words the answers a fault asks for. */
export interface FaultReplies {
  rateLimited(retryAfterSeconds: number | undefined): Reply;
  rejected(code: string | number): Reply;
  serverError(): Reply;
}

/** The stages of one request, between which a fault cuts in. */
export interface Steps {
  /** After any rate limit, before the work (Stripe's idempotency check); a Reply ends the request. */
  admit?(): Reply | undefined;
  work(): Reply | Promise<Reply>;
  /** The work ran and earned this answer, whether or not the client will receive it. */
  settled?(reply: Reply): void;
  /** A hang that did no work has ended. */
  abandoned?(): void;
}

export interface FakeServer<Endpoint extends string> {
  /** Base URL, e.g. `http://127.0.0.1:43121`. */
  url: string;
  /** Queues faults for an endpoint (`'POST /v1/payment_intents'`); each is used once, in order. */
  inject(endpoint: Endpoint, ...faults: Fault[]): void;
  /** Faults queued and not used yet, on every endpoint (a test checks that its faults were met). */
  faultsLeft(): number;
  /** Drops every queued fault (so that one test's unused faults never meet the next test). */
  clearFaults(): void;
  /** Requests that reached the endpoint, faulted or refused ones included. */
  requests(endpoint: Endpoint): number;
  /** Requests a hang fault holds open right now. */
  hanging(): number;
  /** Closes every held connection without an answer. */
  releaseHangs(): void;
  stop(): Promise<void>;
}

export interface FakeBuilder<Endpoint extends string> {
  app: FastifyInstance;
  /** Runs one request through the next fault queued for its endpoint. */
  perform(request: FastifyRequest, reply: FastifyReply, steps: Steps): Promise<FastifyReply | undefined>;
  /** Starts listening; register every route first. */
  listen(): Promise<FakeServer<Endpoint>>;
}

export function send(reply: FastifyReply, answer: Reply): FastifyReply {
  return reply
    .code(answer.status)
    .headers(answer.headers ?? {})
    .send(answer.body);
}

export function endpointOf(request: FastifyRequest): string {
  return `${request.method} ${request.routeOptions.url}`;
}

export function createFake<Endpoint extends string>(replies: FaultReplies): FakeBuilder<Endpoint> {
  // forceCloseConnections: stop() must not wait for a connection a hang fault holds open.
  const app = Fastify({ logger: false, forceCloseConnections: true });
  // Stripe's nested `metadata[key]=value` and Twilio's flat fields both parse with qs.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => {
      done(null, qs.parse(body as string, { depth: 3, arrayLimit: 100 }));
    },
  );
  const faults = new Map<string, Fault[]>();
  const counts = new Map<string, number>();
  const hangs = new Set<Socket>();
  app.addHook('onRequest', async (request) => {
    const endpoint = endpointOf(request);
    counts.set(endpoint, (counts.get(endpoint) ?? 0) + 1);
  });

  async function hang(request: FastifyRequest, reply: FastifyReply): Promise<undefined> {
    reply.hijack();
    const socket = request.raw.socket;
    hangs.add(socket);
    if (!socket.destroyed) await once(socket, 'close');
    hangs.delete(socket);
    return undefined;
  }

  async function perform(request: FastifyRequest, reply: FastifyReply, steps: Steps) {
    const fault = faults.get(endpointOf(request))?.shift();
    if (fault?.kind === 'rate_limit') return send(reply, replies.rateLimited(fault.retryAfterSeconds));
    if (fault?.kind === 'reject') return send(reply, replies.rejected(fault.code));
    const early = steps.admit?.();
    if (early !== undefined) return send(reply, early);
    if (fault?.kind === 'hang' && !fault.afterWork) {
      await hang(request, reply);
      steps.abandoned?.();
      return undefined;
    }
    let answer = await steps.work();
    if (fault?.kind === 'error_after_work' && answer.status < 300) answer = replies.serverError();
    steps.settled?.(answer);
    if (fault?.kind === 'drop_after_work') {
      reply.hijack();
      request.raw.socket.destroy();
      return undefined;
    }
    if (fault?.kind === 'hang') return hang(request, reply);
    return send(reply, answer);
  }

  async function listen(): Promise<FakeServer<Endpoint>> {
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    return {
      url,
      inject: (endpoint, ...added) => faults.set(endpoint, [...(faults.get(endpoint) ?? []), ...added]),
      faultsLeft: () => [...faults.values()].reduce((sum, queued) => sum + queued.length, 0),
      clearFaults: () => faults.clear(),
      requests: (endpoint) => counts.get(endpoint) ?? 0,
      hanging: () => hangs.size,
      releaseHangs: () => {
        for (const socket of hangs) socket.destroy();
      },
      stop: () => app.close(),
    };
  }

  return { app, perform, listen };
}

// The fakes stand in for providers on this machine only: they deliver to loopback addresses and
// refuse anything else rather than send a signed request out into the world.
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/;

/** POSTs a signed webhook the way the provider would, and returns the receiver's status. */
export async function deliverWebhook(
  url: string,
  body: string,
  headers: Record<string, string>,
): Promise<number> {
  if (!LOOPBACK.test(new URL(url).hostname))
    throw new Error('the fake providers only deliver webhooks to loopback');
  const response = await fetch(url, { method: 'POST', body, headers, signal: AbortSignal.timeout(10_000) });
  await response.arrayBuffer();
  return response.status;
}
