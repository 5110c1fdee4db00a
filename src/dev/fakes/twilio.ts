// A fake of Twilio's Messages resource (API 2010-04-01): form-encoded sends with Basic auth
// AccountSid:AuthToken, Twilio's error bodies and codes (21211 for a bad To, 21610 for a recipient
// who replied STOP), listing newest first with To/From/DateSent filters and paging, and signed
// status callbacks (X-Twilio-Signature over the StatusCallback URL and the sorted parameters).
import { randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { createFake, deliverWebhook, type FakeServer, type Reply } from './server.js';
import { signTwilio, twilioFormBody } from './signing.js';

const MESSAGES = '/2010-04-01/Accounts/:accountSid/Messages';
export type TwilioEndpoint =
  | `POST ${typeof MESSAGES}.json`
  | `GET ${typeof MESSAGES}.json`
  | `GET ${typeof MESSAGES}/:sid.json`;

export interface TwilioFakeOptions {
  accountSid: string;
  authToken: string;
}

/** The message resource as Twilio returns it. */
export interface FakeMessage {
  sid: string;
  account_sid: string;
  to: string;
  from: string | null;
  messaging_service_sid: string | null;
  body: string;
  status: string;
  num_segments: string;
  direction: 'outbound-api';
  date_created: string;
  date_updated: string;
  date_sent: string | null;
  error_code: number | null;
  error_message: string | null;
  price: null;
  api_version: '2010-04-01';
  uri: string;
}

/** A sent message with the send parameters Twilio keeps but does not return. */
export type FakeSms = FakeMessage & { statusCallback: string | null; validityPeriod: string | null };

export interface TwilioFake extends FakeServer<TwilioEndpoint> {
  messages(filter?: { to?: string; body?: string }): FakeSms[];
  /** The recipient replied STOP: sends to it fail with 21610 until `optIn`. */
  optOut(phone: string): void;
  optIn(phone: string): void;
  /**
   * Moves a message to a new status and POSTs the signed status callback to its StatusCallback
   * URL, or to `deliverTo` (a local address standing in for that public URL). Returns the
   * receiver's status, or null when there is no callback to send (none set, or `skipCallback`).
   */
  updateStatus(
    sid: string,
    status: string,
    options?: { errorCode?: number; deliverTo?: string; skipCallback?: boolean },
  ): Promise<number | null>;
}

const E164 = /^\+[1-9]\d{6,14}$/;
const ERROR_MESSAGES: Record<number, string> = {
  20003: 'Authenticate',
  20404: 'The requested resource was not found',
  20429: 'Too Many Requests',
  20500: 'Internal Server Error',
  21211: "The 'To' number is not a valid phone number.",
  21602: 'Message body is required.',
  21603: "A 'From' phone number is required.",
  21610: 'Attempt to send to unsubscribed recipient',
  21614: "'To' number is not a valid mobile number",
  21617: 'The concatenated message body exceeds the 1600 character limit.',
};
const ERROR_STATUS: Record<number, number> = { 20003: 401, 20404: 404, 20429: 429, 20500: 500 };

function twilioError(
  code: number,
  message = ERROR_MESSAGES[code] ?? 'Rejected by the fake',
  headers?: Record<string, string>,
): Reply {
  const status = ERROR_STATUS[code] ?? 400;
  return {
    status,
    body: { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status },
    headers,
  };
}

/** Twilio's RFC 2822 timestamps, to the second. */
const rfc2822 = (date: Date) => date.toUTCString().replace('GMT', '+0000');

/** A `DateSent` filter value: a day (YYYY-MM-DD) or an instant. */
function dateBounds(value: string): { start: number; end: number } | null {
  const day = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const start = Date.parse(day ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(start)) return null;
  return { start, end: day ? start + 86_400_000 : start + 1 };
}

export async function startTwilioFake(options: TwilioFakeOptions): Promise<TwilioFake> {
  const messages: FakeMessage[] = [];
  const callbacks = new Map<string, string>();
  const validity = new Map<string, string>();
  const optedOut = new Set<string>();
  const fake = createFake<TwilioEndpoint>({
    rateLimited: (retryAfterSeconds) =>
      twilioError(
        20429,
        undefined,
        retryAfterSeconds === undefined ? undefined : { 'retry-after': String(retryAfterSeconds) },
      ),
    rejected: (code) => twilioError(Number(code)),
    serverError: () => twilioError(20500),
  });
  const { app } = fake;
  const expected = `Basic ${Buffer.from(`${options.accountSid}:${options.authToken}`).toString('base64')}`;

  app.addHook('preHandler', async (request, reply) => {
    const { accountSid } = request.params as { accountSid?: string };
    if (request.headers.authorization !== expected || accountSid !== options.accountSid) {
      const answer = twilioError(20003);
      return reply.code(answer.status).send(answer.body);
    }
  });

  function send(params: Record<string, unknown>): Reply {
    const text = (name: string) => (typeof params[name] === 'string' ? (params[name] as string) : undefined);
    const to = text('To');
    // Twilio's own 21211 message names the number: our client must never copy provider messages.
    if (to === undefined || !E164.test(to))
      return twilioError(21211, `The 'To' number ${to} is not a valid phone number.`);
    const from = text('From');
    const service = text('MessagingServiceSid');
    if ((from === undefined || !E164.test(from)) && (service === undefined || !service.startsWith('MG'))) {
      return twilioError(21603);
    }
    const body = text('Body');
    if (body === undefined || body === '') return twilioError(21602);
    if (body.length > 1600) return twilioError(21617);
    if (optedOut.has(to)) return twilioError(21610);
    const now = rfc2822(new Date());
    const sid = `SM${randomBytes(16).toString('hex')}`;
    const message: FakeMessage = {
      sid,
      account_sid: options.accountSid,
      to,
      from: service === undefined ? (from ?? null) : null,
      messaging_service_sid: service ?? null,
      body,
      status: service === undefined ? 'queued' : 'accepted',
      num_segments: String(Math.ceil(body.length / 153) || 1),
      direction: 'outbound-api',
      date_created: now,
      date_updated: now,
      date_sent: null,
      error_code: null,
      error_message: null,
      price: null,
      api_version: '2010-04-01',
      uri: `/2010-04-01/Accounts/${options.accountSid}/Messages/${sid}.json`,
    };
    messages.push(message);
    const callback = text('StatusCallback');
    if (callback !== undefined) callbacks.set(sid, callback);
    const validityPeriod = text('ValidityPeriod');
    if (validityPeriod !== undefined) validity.set(sid, validityPeriod);
    return { status: 201, body: message };
  }

  function list(query: Record<string, string>): Reply {
    let found = [...messages].reverse();
    if (query.To !== undefined) found = found.filter((message) => message.to === query.To);
    if (query.From !== undefined) found = found.filter((message) => message.from === query.From);
    for (const [name, keep] of [
      ['DateSent', (sent: number, b: { start: number; end: number }) => sent >= b.start && sent < b.end],
      ['DateSent>', (sent: number, b: { start: number }) => sent >= b.start],
      ['DateSent<', (sent: number, b: { end: number }) => sent < b.end],
    ] as const) {
      if (query[name] === undefined) continue;
      const bounds = dateBounds(query[name]);
      if (bounds === null) return twilioError(20001, `Invalid ${name}`);
      // A message not sent yet has no date_sent, so any DateSent filter leaves it out.
      found = found.filter(
        (message) => message.date_sent !== null && keep(Date.parse(message.date_sent), bounds),
      );
    }
    const pageSize = Math.min(Number(query.PageSize ?? 50) || 50, 1000);
    const page = Number(query.Page ?? 0) || 0;
    const data = found.slice(page * pageSize, (page + 1) * pageSize);
    const uri = (n: number) => {
      const params = new URLSearchParams(query);
      params.set('PageSize', String(pageSize));
      params.set('Page', String(n));
      return `/2010-04-01/Accounts/${options.accountSid}/Messages.json?${params}`;
    };
    const more = found.length > (page + 1) * pageSize;
    return {
      status: 200,
      body: {
        messages: data,
        page,
        page_size: pageSize,
        start: page * pageSize,
        end: page * pageSize + Math.max(data.length - 1, 0),
        first_page_uri: uri(0),
        next_page_uri: more ? uri(page + 1) : null,
        previous_page_uri: page > 0 ? uri(page - 1) : null,
        uri: uri(page),
      },
    };
  }

  const sidOf = (request: FastifyRequest) => (request.params as { sid: string }).sid;
  app.post(`${MESSAGES}.json`, (request, reply) =>
    fake.perform(request, reply, { work: () => send((request.body ?? {}) as Record<string, unknown>) }),
  );
  app.get(`${MESSAGES}.json`, (request, reply) =>
    fake.perform(request, reply, { work: () => list(request.query as Record<string, string>) }),
  );
  app.get(`${MESSAGES}/:sid.json`, (request, reply) =>
    fake.perform(request, reply, {
      work: () => {
        const message = messages.find((item) => item.sid === sidOf(request));
        return message ? { status: 200, body: message } : twilioError(20404);
      },
    }),
  );

  const server = await fake.listen();
  return {
    ...server,
    messages: (filter = {}) =>
      messages
        .filter(
          (message) =>
            (filter.to === undefined || message.to === filter.to) &&
            (filter.body === undefined || message.body === filter.body),
        )
        .map((message) => ({
          ...message,
          statusCallback: callbacks.get(message.sid) ?? null,
          validityPeriod: validity.get(message.sid) ?? null,
        })),
    optOut: (phone) => optedOut.add(phone),
    optIn: (phone) => optedOut.delete(phone),
    updateStatus: async (sid, status, update = {}) => {
      const message = messages.find((item) => item.sid === sid);
      if (!message) throw new Error(`fake Twilio has no message ${sid}`);
      const now = rfc2822(new Date());
      message.status = status;
      message.date_updated = now;
      if (message.date_sent === null && ['sent', 'delivered', 'undelivered', 'read'].includes(status)) {
        message.date_sent = now;
      }
      if (update.errorCode !== undefined) message.error_code = update.errorCode;
      const callback = callbacks.get(sid);
      if (callback === undefined || update.skipCallback) return null;
      const params: Record<string, string> = {
        AccountSid: options.accountSid,
        ApiVersion: '2010-04-01',
        MessageSid: sid,
        MessageStatus: status,
        SmsSid: sid,
        SmsStatus: status,
        To: message.to,
      };
      if (message.from !== null) params.From = message.from;
      if (message.messaging_service_sid !== null) params.MessagingServiceSid = message.messaging_service_sid;
      if (update.errorCode !== undefined) params.ErrorCode = String(update.errorCode);
      const { signature } = signTwilio(callback, params, options.authToken);
      return deliverWebhook(update.deliverTo ?? callback, twilioFormBody(params), {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': signature,
      });
    },
  };
}
