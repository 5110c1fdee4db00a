// What each provider's outbound module (stripe.ts, daily.ts, twilio.ts, whatsapp.ts) declares: its
// environment variables, how it reads them (null: not configured, and its outbox rows wait), and
// either the performers of its outbox kinds or the sender of its message channel.
import type { EnvVar } from '../env-vars.js';
import type { ProviderName } from '../webhooks/providers/types.js';
import type { MessageSender } from './messages.js';
import type { OutboxKind, Performer } from './outbox.js';

/** Reads and checks variables; a bad value is added to the configuration's problems. */
export interface Reader {
  read(name: string): string | undefined;
  /** An http(s) URL (its trailing slashes dropped), or the fallback when unset. */
  url(name: string, fallback: string): string;
  /** An http(s) origin (scheme, host, port; no path), or the fallback when unset. */
  origin(name: string, fallback: string): string;
  /** The first of a comma-separated list of secrets, or undefined. */
  firstSecret(name: string): string | undefined;
}

export interface OutboundContext {
  /** CAREBOOK_PUBLIC_URL: where status callbacks go; null: none are asked for. */
  publicUrl: string | null;
}

/** What the API (not the worker) asks of a provider, synchronously, for the signed-in user. */
export interface OutboundServices {
  /** The PaymentIntent's client_secret for the paying patient's browser; never stored or logged. */
  checkout: {
    clientSecret(input: {
      paymentId: string;
      appointmentId: string;
      /** The PaymentIntent when known; else it is created as the worker would (same key and amount). */
      intentId: string | null;
      /** The payment's outbox row: the worker's idempotency key is derived from these. */
      dedupeKey: string;
      keyVersion: number;
      amountCents: number;
      currency: string;
    }): Promise<{ intentId: string; clientSecret: string | null }>;
  };
  /** A meeting token for one participant of one room; never stored, never sent by message. */
  meetingTokens: {
    mint(token: {
      roomName: string;
      nbf: number;
      exp: number;
      userId: string;
      userName: string;
      isOwner: boolean;
    }): Promise<string>;
  };
}

export interface OutboundProvider<Options> {
  name: ProviderName;
  /** Its variables; the first is the one that switches it on. */
  variables: readonly EnvVar[];
  /** The outbox kinds it can deliver. */
  delivers: readonly OutboxKind[];
  read(env: Reader): Options | null;
  performers?(options: Options, context: OutboundContext): Performer[];
  sender?(options: Options, context: OutboundContext): MessageSender;
  services?(options: Options): Partial<OutboundServices>;
}
