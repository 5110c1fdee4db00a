// The four providers by name: the route looks a provider up here, verifies the raw request with
// it, then asks it to split the request into events.
import { daily } from './daily.js';
import { stripe } from './stripe.js';
import { twilio } from './twilio.js';
import type { ProviderName, WebhookProvider } from './types.js';
import { whatsapp } from './whatsapp.js';

export const PROVIDERS: Record<ProviderName, WebhookProvider> = { stripe, twilio, whatsapp, daily };

export * from './types.js';
export { daily, stripe, twilio, whatsapp };
