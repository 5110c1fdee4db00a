// Twilio, outbound: appointment SMS from the Messaging Service (or a number). Twilio has no
// idempotency key for messages, so a send whose answer was lost is looked up (the same recipient
// and body since the first attempt) before it is sent again. Status callbacks come back to our
// Twilio webhook with the outbox row in the URL; the log (notifications) follows them.
import type { EnvVar } from '../env-vars.js';
import { TwilioClient, type TwilioClientOptions } from './clients/twilio.js';
import type { MessageSender } from './messages.js';
import { CLIENT_TIMEOUT_MS } from './outbox.js';
import type { OutboundContext, OutboundProvider, Reader } from './provider.js';

export const TWILIO_VARIABLES: readonly EnvVar[] = [
  {
    name: 'TWILIO_ACCOUNT_SID',
    default: '(unset: no SMS; their rows wait)',
    description:
      'Twilio account (AC…) that sends appointment SMS, authenticated with `TWILIO_AUTH_TOKEN`. Unset: SMS rows stay pending and /readyz says so.',
  },
  {
    name: 'TWILIO_MESSAGING_SERVICE_SID',
    default: '(unset: `TWILIO_FROM`)',
    description:
      'Messaging Service (MG…) that SMS are sent from; it handles STOP/START. One of it or `TWILIO_FROM` is needed.',
  },
  {
    name: 'TWILIO_FROM',
    default: '(unset)',
    description: 'E.164 number SMS are sent from, when there is no Messaging Service.',
  },
  {
    name: 'TWILIO_API_BASE',
    default: 'https://api.twilio.com',
    description: "Twilio's API origin: a local fake in development and tests.",
  },
];

/** The earliest a lookup may look back from the first attempt: clock skew between us and Twilio. */
const SKEW_MS = 60_000;

function smsSender(client: TwilioClient, context: OutboundContext): MessageSender {
  return {
    channel: 'sms',
    provider: 'twilio',
    compose: (_delivery, text) => ({ body: text.body }),
    async send(delivery, _signal) {
      const deadline = delivery.deadlineAt?.getTime() ?? Date.now() + 4 * 3600_000;
      // Twilio drops a message it cannot send in time: a reminder never arrives after the visit.
      const validity = Math.max(60, Math.min(36_000, Math.floor((deadline - Date.now()) / 1000)));
      const message = await client.sendSms({
        to: String(delivery.payload.to),
        body: String(delivery.payload.body),
        statusCallbackUrl:
          context.publicUrl === null ? null : `${context.publicUrl}/webhooks/twilio?outbox=${delivery.ref}`,
        validityPeriodSeconds: validity,
      });
      return message.sid;
    },
    async reconcile(delivery) {
      const since = new Date(delivery.firstAttemptAt.getTime() - SKEW_MS);
      const candidates = await client.findMessages(
        String(delivery.payload.to),
        String(delivery.payload.body),
        since,
      );
      // The same text to the same number may be another row's message (a visit moved A → B → A
      // says "moved to A" twice): one that row recorded is not this row's.
      const recorded = new Set(delivery.recordedRefs);
      return candidates.find((message) => !recorded.has(message.sid))?.sid ?? null;
    },
  };
}

export const twilioOutbound: OutboundProvider<TwilioClientOptions> = {
  name: 'twilio',
  delivers: ['message'],
  variables: TWILIO_VARIABLES,
  read(env: Reader) {
    const accountSid = env.read('TWILIO_ACCOUNT_SID');
    const authToken = env.firstSecret('TWILIO_AUTH_TOKEN');
    const service = env.read('TWILIO_MESSAGING_SERVICE_SID');
    const from = env.read('TWILIO_FROM');
    const apiBase = env.origin('TWILIO_API_BASE', 'https://api.twilio.com');
    if (accountSid === undefined || authToken === undefined || (service === undefined && from === undefined))
      return null;
    const sender = service !== undefined ? { messagingServiceSid: service } : { from: from ?? '' };
    return { accountSid, authToken, sender, apiBase, timeoutMs: CLIENT_TIMEOUT_MS };
  },
  sender: (options, context) => smsSender(new TwilioClient(options), context),
};
