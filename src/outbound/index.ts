// The outbound providers, listed once: their variables (for the configuration and its README
// table), what each reads, and the outbox kinds the worker runs for the configured ones. An
// unconfigured provider's kinds are not run: their rows stay pending, and /readyz and /admin say so.
import type { EnvVar } from '../env-vars.js';
import type { CallKind } from '../queue/kind.js';
import { dailyOutbound } from './daily.js';
import { type MessageSender, messagePerformer } from './messages.js';
import type { Delivery, Outcome } from './outbox.js';
import { OUTBOX_KINDS, type OutboxKind, outboxKind, type Performer } from './outbox.js';
import type { OutboundContext, OutboundProvider, OutboundServices, Reader } from './provider.js';
import { stripeOutbound } from './stripe.js';
import { twilioOutbound } from './twilio.js';
import { whatsappOutbound } from './whatsapp.js';

// biome-ignore lint/suspicious/noExplicitAny: each provider has options of its own
const PROVIDERS: readonly OutboundProvider<any>[] = [
  stripeOutbound,
  dailyOutbound,
  twilioOutbound,
  whatsappOutbound,
];

export const OUTBOUND_ENV_VARS: readonly EnvVar[] = [
  ...PROVIDERS.flatMap((provider) => provider.variables),
  {
    name: 'CAREBOOK_REMINDER_OFFSETS',
    default: '24h,1h',
    description:
      'When reminders go before an appointment, comma-separated durations (e.g. 48h,2h,15m). A reminder already due at booking is skipped, and says so.',
  },
];

export interface OutboundConfig {
  /** Each configured provider's options, by name; absent: not configured. */
  providers: Readonly<Record<string, unknown>>;
  reminderOffsetsSeconds: readonly number[];
}

export function readOutbound(env: Reader, reminderOffsets: readonly number[]): OutboundConfig {
  const providers: Record<string, unknown> = {};
  for (const provider of PROVIDERS) {
    const options = provider.read(env);
    if (options !== null) providers[provider.name] = options;
  }
  return { providers, reminderOffsetsSeconds: reminderOffsets };
}

/** What the API may ask of the configured providers; absent: not configured here. */
export function outboundServices(config: OutboundConfig): Partial<OutboundServices> {
  const services: Partial<OutboundServices> = {};
  for (const provider of PROVIDERS) {
    const options = config.providers[provider.name];
    if (options !== undefined) Object.assign(services, provider.services?.(options));
  }
  return services;
}

/** The outbox kinds the configured providers deliver, and those left waiting (with why). */
export function outboxQueueKinds(
  config: OutboundConfig,
  context: OutboundContext,
  leaseSeconds: number,
): { kinds: CallKind<Delivery, Outcome>[]; waiting: Array<{ kind: OutboxKind; reason: string }> } {
  const performers: Performer[] = [];
  const senders: MessageSender[] = [];
  for (const provider of PROVIDERS) {
    const configured = config.providers[provider.name] as { timeoutMs: number } | undefined;
    if (configured === undefined) continue;
    // A call (its lookups included) ends well inside the lease (CAREBOOK_WORKER_LEASE_SECONDS).
    const options = {
      ...configured,
      timeoutMs: Math.min(configured.timeoutMs, (leaseSeconds * 1000) / 3),
    };
    performers.push(...(provider.performers?.(options, context) ?? []));
    const sender = provider.sender?.(options, context);
    if (sender) senders.push(sender);
  }
  if (senders.length > 0) performers.push(messagePerformer(senders));
  const running = new Set(performers.map((performer) => performer.kind));
  const waiting = OUTBOX_KINDS.filter((kind) => !running.has(kind)).map((kind) => {
    const needed = PROVIDERS.filter((p) => p.delivers.includes(kind)).map((p) => p.variables[0]?.name);
    return { kind, reason: `not configured: set ${needed.join(' or ')}` };
  });
  return { kinds: performers.map((performer) => outboxKind(performer, leaseSeconds)), waiting };
}

/** Each outbound provider's variables by name: `carebook dev` starts a local fake for a provider none of them is set for. */
export const OUTBOUND_PROVIDER_VARIABLES: Readonly<Record<string, readonly string[]>> = Object.fromEntries(
  PROVIDERS.map((provider) => [provider.name, provider.variables.map((variable) => variable.name)]),
);
