// The providers, listed once. A new provider is a descriptor module here plus its row in the
// migrations' webhook_providers table; what the rest of Carebook knows of providers is read from
// this list (docs/integrations/README.md, "Adding a provider").
import { daily } from './daily.js';
import { stripe } from './stripe.js';
import { twilio } from './twilio.js';
import type { ProviderName, SecretVariable, WebhookProvider } from './types.js';
import { whatsapp } from './whatsapp.js';

export const PROVIDERS = { stripe, twilio, whatsapp, daily } satisfies Record<string, WebhookProvider>;

export const PROVIDER_NAMES = Object.keys(PROVIDERS) as ProviderName[];

const DESCRIPTORS: readonly WebhookProvider[] = Object.values(PROVIDERS);

/** The provider of that name, or null. Own keys only: `/webhooks/constructor` names no provider. */
export function providerNamed(name: string): WebhookProvider | null {
  return Object.hasOwn(PROVIDERS, name) ? PROVIDERS[name as ProviderName] : null;
}

type Feature = 'reply' | 'handshake' | 'signsUrl';
type With<F extends Feature> = WebhookProvider & Required<Pick<WebhookProvider, F>>;

/** The providers that have `feature` (their own reply, a handshake, a signed URL). */
export function providersWith<F extends Feature>(feature: F): With<F>[] {
  return DESCRIPTORS.filter((provider): provider is With<F> => Boolean(provider[feature]));
}

/** "Stripe, Twilio, WhatsApp, Daily" — for messages and documents. */
export function titlesOf(providers: readonly WebhookProvider[] = DESCRIPTORS): string {
  return providers.map((provider) => provider.title).join(', ');
}

/** Every variable holding provider secrets: each one's signing secret, then its handshake token. */
export const PROVIDER_SECRETS: readonly SecretVariable[] = DESCRIPTORS.flatMap((provider) =>
  provider.handshake ? [provider.secret, provider.handshake.token] : [provider.secret],
);

/** Every header some provider signs with (never logged). */
export const SIGNED_HEADERS: readonly string[] = [
  ...new Set(DESCRIPTORS.flatMap((provider) => provider.signedHeaders)),
];

export * from './types.js';
export { daily, stripe, twilio, whatsapp };
