// WhatsApp Cloud API, outbound: appointment messages as approved templates (a business-initiated
// message outside the 24-hour window must be one), named carebook_<purpose> with two body
// parameters: the clinic and the time. There is no idempotency key and no message lookup: each
// send carries the outbox row as biz_opaque_callback_data, which every status webhook echoes
// (link_message_to_outbox). After an unknown outcome, the row waits up to RECONCILE_WAIT for such
// a callback before it would send again.
import type { EnvVar } from '../env-vars.js';
import { WhatsAppClient, type WhatsAppClientOptions } from './clients/whatsapp.js';
import type { MessageSender } from './messages.js';
import { CLIENT_TIMEOUT_MS } from './outbox.js';
import type { OutboundProvider, Reader } from './provider.js';

export const WHATSAPP_VARIABLES: readonly EnvVar[] = [
  {
    name: 'WHATSAPP_ACCESS_TOKEN',
    default: '(unset: WhatsApp patients get SMS)',
    description:
      "Cloud API access token (a system user's) that sends template messages. Unset: patients who chose WhatsApp get SMS when SMS is configured.",
  },
  {
    name: 'WHATSAPP_PHONE_NUMBER_ID',
    default: '(unset)',
    description: 'The business phone number id messages are sent from (needed with the token).',
  },
  {
    name: 'WHATSAPP_API_BASE',
    default: 'https://graph.facebook.com/v21.0',
    description: 'Graph API base URL with its version: a local fake in development and tests.',
  },
];

/** How long an unknown outcome waits for WhatsApp's status callback before a resend. */
export const RECONCILE_WAIT_MS = 10 * 60_000;

/** The callback data of a send: it names the outbox row, which the status webhooks echo. */
export const callbackDataFor = (outboxId: string) => `outbox:${outboxId}`;
export const outboxOfCallbackData = (data: unknown): string | null =>
  typeof data === 'string' && /^outbox:[0-9a-f-]{36}$/i.test(data) ? data.slice('outbox:'.length) : null;

function templateSender(client: WhatsAppClient): MessageSender {
  return {
    channel: 'whatsapp',
    provider: 'whatsapp',
    compose: (_delivery, text) => ({
      template: `carebook_${text.purpose}`,
      language: 'en',
      parameters: [text.clinic, text.when],
    }),
    async send(delivery, _signal) {
      const parameters = (delivery.payload.parameters as string[]).map((text) => ({
        type: 'text' as const,
        text,
      }));
      const sent = await client.sendTemplate({
        to: String(delivery.payload.to),
        templateName: String(delivery.payload.template),
        languageCode: String(delivery.payload.language),
        components: [{ type: 'body', parameters }],
        callbackData: callbackDataFor(delivery.ref),
      });
      return sent.messageId;
    },
    async reconcile(delivery) {
      // A status callback would have recorded the message id on the row (providerRef).
      return Date.now() - delivery.firstAttemptAt.getTime() < RECONCILE_WAIT_MS ? 'wait' : null;
    },
  };
}

export const whatsappOutbound: OutboundProvider<WhatsAppClientOptions> = {
  name: 'whatsapp',
  delivers: ['message'],
  variables: WHATSAPP_VARIABLES,
  read(env: Reader) {
    const accessToken = env.read('WHATSAPP_ACCESS_TOKEN');
    const phoneNumberId = env.read('WHATSAPP_PHONE_NUMBER_ID');
    const apiBase = env.url('WHATSAPP_API_BASE', 'https://graph.facebook.com/v21.0');
    if (accessToken === undefined || phoneNumberId === undefined) return null;
    return { accessToken, phoneNumberId, apiBase, timeoutMs: CLIENT_TIMEOUT_MS };
  },
  sender: (options) => templateSender(new WhatsAppClient(options)),
};
