// Twilio Programmable Messaging over plain HTTP. The SDK would add nothing we use: Messages have no
// idempotency key, its only retry (429, opt-in) is the worker's job, and pointing it at another
// base URL means a custom RequestClient. A send whose answer is lost is `ambiguous`: the worker
// looks the message up (findMessages) before any resend.
import type { ProviderCallError } from './errors.js';
import {
  answerFailure,
  exchange,
  invalidResponse,
  isObject,
  type Meaning,
  type ProviderAnswer,
  type ProviderRequest,
  wholeMilliseconds,
} from './http.js';

/** A Messaging Service (preferred: opt-out handling, sender pool) or one sending number. */
export type TwilioSender = { messagingServiceSid: string } | { from: string };

export interface TwilioClientOptions {
  accountSid: string;
  authToken: string;
  sender: TwilioSender;
  /** TWILIO_API_BASE, e.g. `https://api.twilio.com`. */
  apiBase: string;
  /** Per call (a lookup's pages share it), below the outbox worker's lease. */
  timeoutMs: number;
}

export interface SmsRequest {
  /** E.164. */
  to: string;
  body: string;
  /** Twilio posts status changes here (carry the outbox id in its query); null: no callbacks. */
  statusCallbackUrl: string | null;
  /** Twilio drops the message if it cannot be sent within this many seconds (1-36000). */
  validityPeriodSeconds: number;
}

export interface TwilioMessage {
  sid: string;
  status: string;
  dateCreated: Date;
  dateSent: Date | null;
  errorCode: number | null;
}

// Twilio error codes with a meaning of their own (twilio.com/docs/api/errors); any other code
// takes its HTTP status's meaning.
const UNREACHABLE: Meaning = { classification: 'permanent', reason: 'unreachable_recipient' };
const ACCOUNT: Meaning = { classification: 'permanent', reason: 'provider_config' };
const CODE_MEANINGS = new Map<number, Meaning>([
  [21610, { classification: 'permanent', reason: 'opted_out' }],
  [21211, UNREACHABLE], // invalid To
  [21612, UNREACHABLE], // unroutable
  [21614, UNREACHABLE], // not SMS-capable
  [21635, UNREACHABLE], // landline
  [20003, ACCOUNT], // authentication
  [21408, ACCOUNT], // region not enabled
  [21606, ACCOUNT], // From not SMS-capable
  [21608, ACCOUNT], // unverified number on a trial account
]);

function toMessage(body: unknown): TwilioMessage | null {
  if (!isObject(body) || typeof body.sid !== 'string' || typeof body.status !== 'string') return null;
  const created = typeof body.date_created === 'string' ? new Date(body.date_created) : null;
  if (created === null || Number.isNaN(created.getTime())) return null;
  const sent = typeof body.date_sent === 'string' ? new Date(body.date_sent) : null;
  return {
    sid: body.sid,
    status: body.status,
    dateCreated: created,
    dateSent: sent,
    errorCode: typeof body.error_code === 'number' ? body.error_code : null,
  };
}

export class TwilioClient {
  readonly #options: TwilioClientOptions;
  readonly #authorization: string;
  readonly #messages: string;

  constructor(options: TwilioClientOptions) {
    this.#options = { ...options, timeoutMs: wholeMilliseconds(options.timeoutMs) };
    this.#authorization = `Basic ${Buffer.from(`${options.accountSid}:${options.authToken}`).toString('base64')}`;
    this.#messages = `${options.apiBase.replace(/\/+$/, '')}/2010-04-01/Accounts/${encodeURIComponent(options.accountSid)}/Messages`;
  }

  async sendSms(sms: SmsRequest): Promise<TwilioMessage> {
    const validity = sms.validityPeriodSeconds;
    if (!Number.isInteger(validity) || validity < 1 || validity > 36_000) {
      throw new RangeError('validityPeriodSeconds must be a whole number of seconds from 1 to 36000');
    }
    if (sms.body.length === 0 || sms.body.length > 1600)
      throw new RangeError('An SMS body is 1-1600 characters');
    const form = new URLSearchParams({ To: sms.to, Body: sms.body, ValidityPeriod: String(validity) });
    if (sms.statusCallbackUrl !== null) form.set('StatusCallback', sms.statusCallbackUrl);
    const { sender } = this.#options;
    if ('messagingServiceSid' in sender) form.set('MessagingServiceSid', sender.messagingServiceSid);
    else form.set('From', sender.from);
    const request: ProviderRequest = {
      provider: 'twilio',
      operation: 'sendSms',
      method: 'POST',
      url: `${this.#messages}.json`,
      headers: {
        authorization: this.#authorization,
        accept: 'application/json',
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: form.toString(),
      // A lost answer may hide a sent message, and Twilio cannot deduplicate a resend.
      unanswered: 'ambiguous',
      signal: AbortSignal.timeout(this.#options.timeoutMs),
    };
    return this.#message(request, await exchange(request));
  }

  async fetchMessage(sid: string): Promise<TwilioMessage | null> {
    const url = `${this.#messages}/${encodeURIComponent(sid)}.json`;
    const request = this.#read('fetchMessage', url, AbortSignal.timeout(this.#options.timeoutMs));
    const answer = await exchange(request);
    if (answer.status === 404) return null;
    return this.#message(request, answer);
  }

  /**
   * Messages from our sender to `to` created at or after `since` with exactly this body: the
   * reconcile lookup before resending an ambiguous send. No `DateSent` filter: a message Twilio
   * accepted but has not sent yet has no date_sent and would be missed, so we page (newest
   * first) until the pages are older than `since`. Pass `since` early enough to cover clock skew.
   */
  async findMessages(to: string, body: string, since: Date): Promise<TwilioMessage[]> {
    // Twilio's dates have whole seconds: a message created in the same second as `since` counts.
    const from = Math.floor(since.getTime() / 1000) * 1000;
    const signal = AbortSignal.timeout(this.#options.timeoutMs);
    const query = new URLSearchParams({ To: to, PageSize: '100' });
    const { sender } = this.#options;
    if ('from' in sender) query.set('From', sender.from);
    let url: string | null = `${this.#messages}.json?${query}`;
    const found: TwilioMessage[] = [];
    while (url !== null) {
      const request = this.#read('findMessages', url, signal);
      const answer = await exchange(request);
      if (answer.status >= 300) throw classify(request, answer);
      const page = isObject(answer.body) && Array.isArray(answer.body.messages) ? answer.body.messages : null;
      if (page === null) throw invalidResponse(request, answer.status);
      let reachedOlder = false;
      for (const raw of page) {
        const message = toMessage(raw);
        if (message === null) throw invalidResponse(request, answer.status);
        if (message.dateCreated.getTime() < from) reachedOlder = true;
        else if (isObject(raw) && raw.body === body && sentByUs(raw, sender)) found.push(message);
      }
      const next = (answer.body as Record<string, unknown>).next_page_uri;
      url =
        !reachedOlder && typeof next === 'string' && next !== '' ? new URL(next, this.#messages).href : null;
    }
    return found;
  }

  /** Reads are safe to repeat, so an unanswered one is retryable. */
  #read(operation: string, url: string, signal: AbortSignal): ProviderRequest {
    return {
      provider: 'twilio',
      operation,
      method: 'GET',
      url,
      headers: { authorization: this.#authorization, accept: 'application/json' },
      unanswered: 'retryable',
      signal,
    };
  }

  #message(request: ProviderRequest, answer: ProviderAnswer): TwilioMessage {
    if (answer.status >= 300) throw classify(request, answer);
    const message = toMessage(answer.body);
    if (message === null) throw invalidResponse(request, answer.status);
    return message;
  }
}

function sentByUs(raw: Record<string, unknown>, sender: TwilioSender): boolean {
  return 'messagingServiceSid' in sender ? raw.messaging_service_sid === sender.messagingServiceSid : true;
}

function classify(request: ProviderRequest, answer: ProviderAnswer): ProviderCallError {
  const code = isObject(answer.body) && typeof answer.body.code === 'number' ? answer.body.code : null;
  const meaning = code === null ? undefined : CODE_MEANINGS.get(code);
  return answerFailure(request, answer, code === null ? null : String(code), meaning);
}
