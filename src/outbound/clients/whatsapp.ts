// WhatsApp Cloud API (Meta Graph): approved template messages, the only kind a business may start a
// conversation with. No idempotency and no lookup of sent messages: a send whose answer is lost is
// `ambiguous`, and the status webhook echoing our `biz_opaque_callback_data` is the proof the
// worker waits for before any resend.
import { type ProviderCallError, retryAfterMs } from './errors.js';
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

export interface WhatsAppClientOptions {
  accessToken: string;
  phoneNumberId: string;
  /** WHATSAPP_API_BASE, e.g. `https://graph.facebook.com/v21.0`. */
  apiBase: string;
  /** Per call, below the outbox worker's lease. */
  timeoutMs: number;
}

/** One component of an approved template, in Meta's shape. */
export interface TemplateComponent {
  type: 'header' | 'body' | 'button';
  sub_type?: 'url' | 'quick_reply';
  index?: string;
  parameters: Array<{ type: 'text'; text: string }>;
}

export interface TemplateMessage {
  /** E.164 or bare digits; sent as digits. */
  to: string;
  templateName: string;
  languageCode: string;
  components?: TemplateComponent[];
  /** Echoed in every status webhook of this message (at most 512 characters): our outbox id. */
  callbackData: string;
}

export interface WhatsAppSent {
  /** `wamid.…`, the id status webhooks carry. */
  messageId: string;
  /** `accepted` or `held_for_quality_assessment`, when Meta says. */
  messageStatus: string | null;
}

// Meta's error codes (developers.facebook.com …/whatsapp/support/error-codes). Build on `code`,
// never on titles or HTTP statuses, as Meta advises.
const PAIR_RATE = 131056;
// "About one message per 6 s to the same user": the earliest a pair-rate retry can succeed.
const PAIR_RATE_WAIT_MS = 6000;
const THROUGHPUT = new Set([4, 80007, 130429, PAIR_RATE]);
const ACCOUNT: Meaning = { classification: 'permanent', reason: 'provider_config' };
// "Unknown or temporary": the message may or may not have gone.
const UNKNOWN: Meaning = { classification: 'ambiguous', reason: 'server_error' };
const CODE_MEANINGS = new Map<number, Meaning>([
  [131026, { classification: 'permanent', reason: 'unreachable_recipient' }], // not on WhatsApp
  [0, ACCOUNT], // AuthException
  [10, ACCOUNT], // permission denied
  [190, ACCOUNT], // access token expired
  [131048, ACCOUNT], // spam rate limit: stop and alert
  [1, UNKNOWN],
  [2, UNKNOWN],
  [131000, UNKNOWN],
]);
// Any other code answering a 4xx is a parameter or template error (100, 131008, 131009, 131047, 132xxx).
const INVALID: Meaning = { classification: 'permanent', reason: 'invalid_request' };

export class WhatsAppClient {
  readonly #options: WhatsAppClientOptions;
  readonly #url: string;

  constructor(options: WhatsAppClientOptions) {
    this.#options = { ...options, timeoutMs: wholeMilliseconds(options.timeoutMs) };
    this.#url = `${options.apiBase.replace(/\/+$/, '')}/${encodeURIComponent(options.phoneNumberId)}/messages`;
  }

  async sendTemplate(message: TemplateMessage): Promise<WhatsAppSent> {
    if (message.callbackData.length === 0 || message.callbackData.length > 512) {
      throw new RangeError('biz_opaque_callback_data is 1-512 characters');
    }
    const body = {
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: message.to.replace(/^\+/, ''),
      type: 'template',
      template: {
        name: message.templateName,
        language: { code: message.languageCode },
        ...(message.components === undefined ? {} : { components: message.components }),
      },
      biz_opaque_callback_data: message.callbackData,
    };
    const request: ProviderRequest = {
      provider: 'whatsapp',
      operation: 'sendTemplate',
      method: 'POST',
      url: this.#url,
      headers: {
        authorization: `Bearer ${this.#options.accessToken}`,
        'content-type': 'application/json',
        accept: 'application/json',
      },
      body: JSON.stringify(body),
      unanswered: 'ambiguous',
      signal: AbortSignal.timeout(this.#options.timeoutMs),
    };
    const answer = await exchange(request);
    if (answer.status >= 300) throw classify(request, answer);
    const sent =
      isObject(answer.body) && Array.isArray(answer.body.messages) ? answer.body.messages[0] : null;
    if (!isObject(sent) || typeof sent.id !== 'string') throw invalidResponse(request, answer.status);
    return {
      messageId: sent.id,
      messageStatus: typeof sent.message_status === 'string' ? sent.message_status : null,
    };
  }
}

function classify(request: ProviderRequest, answer: ProviderAnswer): ProviderCallError {
  const error = isObject(answer.body) && isObject(answer.body.error) ? answer.body.error : null;
  const code = typeof error?.code === 'number' ? error.code : null;
  if (code === null) return answerFailure(request, answer, null);
  if (THROUGHPUT.has(code)) {
    const fromHeader = retryAfterMs(answer.headers.get('retry-after'));
    return answerFailure(request, answer, String(code), {
      classification: 'rate_limited',
      reason: 'rate_limit',
      retryAfterMs: code === PAIR_RATE ? Math.max(fromHeader ?? 0, PAIR_RATE_WAIT_MS) : fromHeader,
    });
  }
  const known = CODE_MEANINGS.get(code);
  const byStatus = answer.status >= 500 || answer.status === 429;
  return answerFailure(request, answer, String(code), known ?? (byStatus ? undefined : INVALID));
}
