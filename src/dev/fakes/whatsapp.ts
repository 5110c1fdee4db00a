// A fake of the WhatsApp Cloud API's messages endpoint (Meta Graph): Bearer access token, template
// messages with biz_opaque_callback_data, Meta's error body ({error:{message, type, code,
// error_data, fbtrace_id}}), and signed status webhooks (X-Hub-Signature-256 over the raw body)
// that echo our callback data, as Meta's do.
import { randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { createFake, deliverWebhook, type FakeServer, type Reply } from './server.js';
import { signWhatsApp } from './signing.js';

export const GRAPH_VERSION = 'v21.0';
export type WhatsAppEndpoint = `POST /${typeof GRAPH_VERSION}/:phoneNumberId/messages`;

export interface WhatsAppFakeOptions {
  accessToken: string;
  phoneNumberId: string;
}

export interface FakeWhatsAppMessage {
  id: string;
  to: string;
  templateName: string;
  languageCode: string;
  components: unknown;
  callbackData: string | null;
  status: string;
}

export interface WhatsAppFake extends FakeServer<WhatsAppEndpoint> {
  messages(filter?: { to?: string }): FakeWhatsAppMessage[];
  /**
   * Moves a message to a status (`sent`, `delivered`, `read`, `failed`) and POSTs Meta's signed
   * status webhook to `url`; `errorCode` adds `errors[]` (for `failed`). Returns the receiver's status.
   */
  sendStatus(
    messageId: string,
    status: string,
    webhook: { url: string; appSecret: string; errorCode?: number },
  ): Promise<number>;
}

const TITLES: Record<number, string> = {
  100: 'Invalid parameter',
  190: 'Access token has expired',
  130429: 'Rate limit hit',
  131009: 'Parameter value is not valid',
  131026: 'Message undeliverable',
  131047: 'Re-engagement message',
  131048: 'Spam rate limit hit',
  131056: '(Business Account, Consumer Account) pair rate limit hit',
};
// HTTP statuses Meta pairs with these codes; clients are told to read `code`, not the status.
const STATUS: Record<number, number> = {
  0: 401,
  190: 401,
  10: 403,
  4: 429,
  80007: 429,
  1: 500,
  131000: 500,
  2: 503,
};
const WABA_ID = '102290129340398';

function metaError(code: number, status = STATUS[code] ?? 400, headers?: Record<string, string>): Reply {
  const title = TITLES[code] ?? 'Rejected by the fake';
  return {
    status,
    headers,
    body: {
      error: {
        message: `(#${code}) ${title}`,
        type: 'OAuthException',
        code,
        error_data: { messaging_product: 'whatsapp', details: title },
        fbtrace_id: randomBytes(9).toString('base64url'),
      },
    },
  };
}

type Json = Record<string, unknown>;
const objectOf = (value: unknown): Json | null =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : null;

export async function startWhatsAppFake(options: WhatsAppFakeOptions): Promise<WhatsAppFake> {
  const messages: FakeWhatsAppMessage[] = [];
  const fake = createFake<WhatsAppEndpoint>({
    // Throughput (130429) as a 429, the way the fault hook promises; `reject` sends Meta's 400 form.
    rateLimited: (retryAfterSeconds) =>
      metaError(
        130429,
        429,
        retryAfterSeconds === undefined ? undefined : { 'retry-after': String(retryAfterSeconds) },
      ),
    rejected: (code) => metaError(Number(code)),
    serverError: () => metaError(131000, 500),
  });
  const { app } = fake;

  app.addHook('preHandler', async (request, reply) => {
    if (request.headers.authorization !== `Bearer ${options.accessToken}`) {
      const answer = metaError(190);
      return reply.code(answer.status).send(answer.body);
    }
  });

  function send(request: FastifyRequest): Reply {
    const { phoneNumberId } = request.params as { phoneNumberId: string };
    if (phoneNumberId !== options.phoneNumberId) return metaError(100);
    const body = objectOf(request.body) ?? {};
    if (body.messaging_product !== 'whatsapp') return metaError(100);
    if (typeof body.to !== 'string' || !/^\d{7,15}$/.test(body.to)) return metaError(131009);
    // Nobody has written to this fake business, so no 24 h window is open: free-form text is refused.
    if (body.type === 'text') return metaError(131047);
    const template = objectOf(body.template);
    const language = objectOf(template?.language);
    if (
      body.type !== 'template' ||
      typeof template?.name !== 'string' ||
      typeof language?.code !== 'string'
    ) {
      return metaError(100);
    }
    const callbackData = body.biz_opaque_callback_data;
    if (callbackData !== undefined && (typeof callbackData !== 'string' || callbackData.length > 512)) {
      return metaError(100);
    }
    const id = `wamid.${randomBytes(24).toString('base64url')}`;
    messages.push({
      id,
      to: body.to,
      templateName: template.name,
      languageCode: language.code,
      components: template.components ?? null,
      callbackData: callbackData ?? null,
      status: 'accepted',
    });
    return {
      status: 200,
      body: {
        messaging_product: 'whatsapp',
        contacts: [{ input: body.to, wa_id: body.to }],
        messages: [{ id, message_status: 'accepted' }],
      },
    };
  }

  app.post(`/${GRAPH_VERSION}/:phoneNumberId/messages`, (request, reply) =>
    fake.perform(request, reply, { work: () => send(request) }),
  );

  const server = await fake.listen();
  return {
    ...server,
    url: `${server.url}/${GRAPH_VERSION}`,
    messages: (filter = {}) =>
      messages.filter((message) => filter.to === undefined || message.to === filter.to),
    sendStatus: async (messageId, status, webhook) => {
      const message = messages.find((item) => item.id === messageId);
      if (!message) throw new Error(`fake WhatsApp has no message ${messageId}`);
      message.status = status;
      const entry: Json = {
        id: messageId,
        status,
        timestamp: String(Math.floor(Date.now() / 1000)),
        recipient_id: message.to,
      };
      if (message.callbackData !== null) entry.biz_opaque_callback_data = message.callbackData;
      if (webhook.errorCode !== undefined) {
        const title = TITLES[webhook.errorCode] ?? 'Error';
        entry.errors = [{ code: webhook.errorCode, title, message: title, error_data: { details: title } }];
      }
      const body = JSON.stringify({
        object: 'whatsapp_business_account',
        entry: [
          {
            id: WABA_ID,
            changes: [
              {
                field: 'messages',
                value: {
                  messaging_product: 'whatsapp',
                  metadata: { display_phone_number: '15550783881', phone_number_id: options.phoneNumberId },
                  statuses: [entry],
                },
              },
            ],
          },
        ],
      });
      return deliverWebhook(webhook.url, body, {
        'content-type': 'application/json',
        'x-hub-signature-256': signWhatsApp(body, webhook.appSecret),
      });
    },
  };
}
