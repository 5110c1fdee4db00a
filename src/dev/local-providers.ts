// `carebook dev` (npm start) with no provider account anywhere: for each outbound provider none of
// whose variables is set, the local fake (src/dev/fakes) on 127.0.0.1 and the variables that point
// Carebook at it. Real variables win: a provider with any of its variables set is left alone.
// Beside the fakes, a small control server lets the walkthrough see what the fakes hold and pay a
// PaymentIntent, as the patient's browser and Stripe's webhook would. Only `carebook dev` calls
// this; `serve` and `worker` never start a fake.
import { randomBytes } from 'node:crypto';
import Fastify from 'fastify';
import { OUTBOUND_PROVIDER_VARIABLES } from '../outbound/index.js';
import type { ProviderName } from '../webhooks/providers/types.js';
import { type Fakes, type FakesOptions, startFakes } from './fakes/index.js';

export interface LocalProviders {
  /** Variables to lay over the environment (only ones it does not set). */
  env: Record<string, string>;
  /** One line per faked provider, e.g. "stripe: local fake at http://127.0.0.1:41234". */
  lines: string[];
  /** The control server's base URL. */
  controlUrl: string;
  /** The running fakes (only the faked providers), for in-process callers' fault hooks. */
  fakes: Partial<Fakes<Required<FakesOptions>>>;
  /** Where the fakes deliver webhooks: Carebook's URL, known once it listens. */
  deliverTo(carebookUrl: string): void;
  stop(): Promise<void>;
}

type Env = Readonly<Record<string, string | undefined>>;
const set = (env: Env, name: string) => (env[name] ?? '').trim() !== '';
const token = (prefix: string) => `${prefix}${randomBytes(16).toString('hex')}`;
const first = (env: Env, name: string) => env[name]?.split(',')[0]?.trim() || undefined;

/**
 * Per provider: the fake's credentials, and the variables that point Carebook at it (webhook
 * secrets included, so that what the fake signs verifies). A Record<ProviderName, …>: the compiler
 * keeps it complete when a provider is added.
 */
const WIRING: {
  [K in ProviderName]: {
    options(env: Env): NonNullable<FakesOptions[K]>;
    variables(url: string, options: NonNullable<FakesOptions[K]>): Record<string, string>;
  };
} = {
  stripe: {
    options: () => ({ secretKey: token('sk_test_local_') }),
    variables: (url, options) => ({ STRIPE_SECRET_KEY: options.secretKey, STRIPE_API_BASE: url }),
  },
  daily: {
    options: () => ({ apiKey: token('daily-local-') }),
    variables: (url, options) => ({ DAILY_API_KEY: options.apiKey, DAILY_API_BASE: url }),
  },
  twilio: {
    // Twilio authenticates API calls with the token that signs its webhooks: the configured one.
    options: (env) => ({
      accountSid: `AC${randomBytes(16).toString('hex')}`,
      authToken: first(env, 'TWILIO_AUTH_TOKEN') ?? token(''),
    }),
    variables: (url, options) => ({
      TWILIO_ACCOUNT_SID: options.accountSid,
      TWILIO_AUTH_TOKEN: options.authToken,
      TWILIO_MESSAGING_SERVICE_SID: `MG${randomBytes(16).toString('hex')}`,
      TWILIO_API_BASE: url,
    }),
  },
  whatsapp: {
    options: () => ({ accessToken: token('wa-local-'), phoneNumberId: '100000000000001' }),
    variables: (url, options) => ({
      WHATSAPP_ACCESS_TOKEN: options.accessToken,
      WHATSAPP_PHONE_NUMBER_ID: options.phoneNumberId,
      WHATSAPP_API_BASE: url,
    }),
  },
};

/** The providers that get a fake, in the registry's order: those with none of their variables set. */
export function providersToFake(env: Env): ProviderName[] {
  return (Object.keys(OUTBOUND_PROVIDER_VARIABLES) as ProviderName[]).filter(
    (name) => !(OUTBOUND_PROVIDER_VARIABLES[name] ?? []).some((variable) => set(env, variable)),
  );
}

/** Starts the fakes `providersToFake(env)` names, and the control server; null when none is needed. */
export async function startLocalProviders(env: Env): Promise<LocalProviders | null> {
  const names = providersToFake(env);
  if (names.length === 0) return null;
  // The fake Stripe signs its events with the configured endpoint secret, else a fresh one.
  const stripeWebhookSecret = first(env, 'STRIPE_WEBHOOK_SECRET') ?? token('whsec_local_');
  const options: Record<string, unknown> = {};
  for (const name of names) options[name] = WIRING[name].options(env);
  const fakes = await startFakes(options as FakesOptions);
  const urls: Partial<Record<ProviderName, string>> = fakes.urls;
  const overlay: Record<string, string> = {};
  for (const name of names) {
    const wired = WIRING[name] as { variables(url: string, options: unknown): Record<string, string> };
    const variables = wired.variables(urls[name] as string, options[name]);
    if (name === 'stripe') variables.STRIPE_WEBHOOK_SECRET = stripeWebhookSecret;
    // Real variables win: only unset ones are laid over the environment.
    for (const [variable, value] of Object.entries(variables))
      if (!set(env, variable)) overlay[variable] = value;
  }

  // Only the providers named are running: the others are absent.
  const held = fakes as Partial<Fakes<Required<FakesOptions>>>;
  let carebookUrl: string | null = null;
  const control = Fastify({ logger: false, forceCloseConnections: true });
  // What the fakes hold, for the walkthrough; never a client_secret.
  control.get('/', async () => {
    return {
      stripe: held.stripe && {
        payment_intents: held.stripe.paymentIntents().map(({ client_secret: _s, ...intent }) => intent),
        refunds: held.stripe.refunds(),
      },
      daily: held.daily && { rooms: held.daily.rooms() },
      twilio: held.twilio && {
        messages: held.twilio.messages().map(({ to, body, status, sid, date_created }) => ({
          sid,
          to,
          body,
          status,
          date_created,
        })),
      },
      whatsapp: held.whatsapp && { messages: held.whatsapp.messages() },
    };
  });
  // As if the patient paid: the fake PaymentIntent succeeds and Stripe's signed
  // payment_intent.succeeded goes to this Carebook's /webhooks/stripe.
  control.post('/stripe/payment_intents/:id/succeed', async (request, reply) => {
    const stripe = held.stripe;
    if (!stripe) return reply.code(404).send({ error: 'Stripe is not faked here (STRIPE_* is set)' });
    if (!carebookUrl) return reply.code(503).send({ error: 'Carebook is not listening yet' });
    const { id } = request.params as { id: string };
    if (!stripe.paymentIntents().some((intent) => intent.id === id))
      return reply.code(404).send({ error: `no PaymentIntent ${id} at the fake` });
    const { intent, delivery } = await stripe.succeed(id, {
      url: `${carebookUrl}/webhooks/stripe`,
      secret: stripeWebhookSecret,
    });
    return { payment_intent: intent.id, status: intent.status, webhook_status: delivery };
  });
  const controlUrl = await control.listen({ host: '127.0.0.1', port: 0 }).catch(async (error: unknown) => {
    await fakes.stop();
    throw error;
  });
  return {
    env: overlay,
    lines: names.map((name) => `${name}: local fake at ${urls[name]}`),
    controlUrl,
    fakes: held,
    deliverTo: (url) => {
      // Listening on every interface (HOST=0.0.0.0): the fakes deliver over loopback only.
      const target = new URL(url);
      if (['0.0.0.0', '[::]'].includes(target.hostname)) target.hostname = '127.0.0.1';
      carebookUrl = target.origin;
    },
    stop: async () => {
      await control.close();
      await fakes.stop();
    },
  };
}
