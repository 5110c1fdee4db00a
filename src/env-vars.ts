// Every environment variable Carebook reads: name, default and what it does. The README's
// configuration table is checked against this list (test/config.test.ts), and src/config.ts is
// checked to read exactly these. The providers' secret variables come from their descriptors.
import { OUTBOUND_ENV_VARS } from './outbound/index.js';
import { PROVIDER_SECRETS, providersWith, titlesOf } from './webhooks/providers/index.js';

export interface EnvVar {
  name: string;
  default: string;
  description: string;
}

const HANDSHAKE_TOKENS = new Set(providersWith('handshake').map((provider) => provider.handshake.token.name));

/** Unset, a provider's secret refuses its webhooks (503); an unset handshake token refuses the GET (403). */
const PROVIDERS_ENV_VARS: EnvVar[] = PROVIDER_SECRETS.map((variable) => ({
  name: variable.name,
  default: HANDSHAKE_TOKENS.has(variable.name) ? '(unset: 403)' : '(unset: 503)',
  description: variable.description,
}));

export const ENV_VARS: readonly EnvVar[] = [
  {
    name: 'PORT',
    default: '3000',
    description: 'HTTP port of `carebook serve` / `npm start` (0 picks a free port).',
  },
  { name: 'HOST', default: '127.0.0.1', description: 'Interface to listen on; `0.0.0.0` in containers.' },
  {
    name: 'DATABASE_URL',
    default: '(unset: embedded PostgreSQL)',
    description:
      'PostgreSQL connection URL. Unset: an embedded PostgreSQL is started in `CAREBOOK_DATA_DIR` (development only).',
  },
  {
    name: 'CAREBOOK_READ_DATABASE_URL',
    default: '(unset: reads use DATABASE_URL)',
    description:
      'Optional streaming replica for availability search and other read-only listings (same roles and RLS). Bookings and every write always use DATABASE_URL. A lagging replica can show a slot just taken: booking then answers 409.',
  },
  {
    name: 'CAREBOOK_DATA_DIR',
    default: '.carebook',
    description: 'Where the embedded PostgreSQL keeps its data and the development secrets.',
  },
  {
    name: 'CAREBOOK_DB_POOL_MAX',
    default: '20',
    description: 'Connections per process in the database pool.',
  },
  {
    name: 'CAREBOOK_DATABASE_POOLING',
    default: 'auto',
    description:
      'How `DATABASE_URL` is pooled: `session` (PostgreSQL itself, or PgBouncer in session mode), `transaction` (PgBouncer in transaction mode: no named prepared statements, no LISTEN on it), or `auto` (detected at start).',
  },
  {
    name: 'CAREBOOK_LISTEN_DATABASE_URL',
    default: '(unset: DATABASE_URL, or polling behind transaction pooling)',
    description:
      "A direct connection URL for the worker's LISTEN (a transaction pooler cannot hold one). Unset behind transaction pooling: the worker polls.",
  },
  {
    name: 'CAREBOOK_ALLOW_SUPERUSER',
    default: 'false',
    description:
      '`true` lets `serve` and `worker` run with a superuser or BYPASSRLS login (it logs a warning at start); otherwise they refuse to start.',
  },
  {
    name: 'CAREBOOK_JWT_SECRET',
    default: '(unset)',
    description:
      'HS256 secret (at least 32 characters) for bearer tokens; comma-separated during a rotation (the first signs). `npm start` generates one into the data directory when unset.',
  },
  {
    name: 'CAREBOOK_JWKS_URL',
    default: '(unset)',
    description:
      "Production: the identity provider's JWKS URL; tokens are then verified against it (RS256, ES256 or EdDSA).",
  },
  {
    name: 'CAREBOOK_JWT_ISSUER',
    default: '(unset: not checked)',
    description: 'Expected `iss` claim of bearer tokens.',
  },
  {
    name: 'CAREBOOK_JWT_AUDIENCE',
    default: '(unset: not checked)',
    description: 'Expected `aud` claim of bearer tokens.',
  },
  {
    name: 'CAREBOOK_JWT_MAX_AGE',
    default: '12h',
    description:
      'Longest accepted token lifetime (`exp` − `iat`, e.g. `30m`, `12h`); tokens living longer, or issued in the future, are refused.',
  },
  {
    name: 'CAREBOOK_HOLD_MINUTES',
    default: '15',
    description: 'How long an unpaid booking holds its slot before the sweeper expires it.',
  },
  {
    name: 'CAREBOOK_REQUEST_TIMEOUT_SECONDS',
    default: '30',
    description:
      'A request whose headers and body have not fully arrived by then is answered 408 and its connection closed.',
  },
  {
    name: 'CAREBOOK_MAX_CONNECTIONS',
    default: '2000',
    description: 'Open HTTP connections one process accepts; further connections are closed at once.',
  },
  {
    name: 'CAREBOOK_TRUST_PROXY',
    default: '(unset: trust no proxy)',
    description:
      'Comma-separated addresses or CIDRs of your load balancers: only their `X-Forwarded-For` is believed (rate limits key on the client address).',
  },
  {
    name: 'CAREBOOK_CORS_ORIGINS',
    default: '(unset: no cross-origin access)',
    description: 'Comma-separated origins (e.g. https://app.clinic.example) whose browsers may call the API.',
  },
  {
    name: 'CAREBOOK_RATE_LIMIT_AUTH_FAILURES',
    default: '20',
    description:
      'Failed authentications per client address per window; past it the address gets 429 (0: no limit).',
  },
  {
    name: 'CAREBOOK_RATE_LIMIT_BOOKINGS',
    default: '30',
    description: 'Booking attempts (book, reschedule) per token subject per window (0: no limit).',
  },
  {
    name: 'CAREBOOK_RATE_LIMIT_WEBHOOK_FAILURES',
    default: '60',
    description:
      'Webhook requests with a bad signature per client address per window; past it the address gets 429 (0: no limit).',
  },
  {
    name: 'CAREBOOK_RATE_LIMIT_WINDOW_SECONDS',
    default: '60',
    description: 'The window of the three rate limits above (counted per process).',
  },
  {
    name: 'CAREBOOK_METRICS_TOKEN',
    default: '(unset)',
    description:
      'Bearer token that `/metrics` requires (API and worker). Without it the API serves `/metrics` only on `CAREBOOK_METRICS_PORT`.',
  },
  {
    name: 'CAREBOOK_METRICS_PORT',
    default: '(unset)',
    description:
      '`carebook serve` serves `/metrics` on this port of `HOST` instead of the API port (0 picks a free port).',
  },
  ...PROVIDERS_ENV_VARS,
  ...OUTBOUND_ENV_VARS,
  {
    name: 'CAREBOOK_PUBLIC_URL',
    default: `(unset: ${titlesOf(providersWith('signsUrl'))} webhooks answer 503)`,
    description: `Public base URL providers call, e.g. https://api.clinic.example. Required for ${titlesOf(providersWith('signsUrl'))}, which signs the full URL; never taken from the Host header.`,
  },
  {
    name: 'CAREBOOK_WORKER_CONCURRENCY',
    default: '2',
    description: 'Webhook batches one worker process handles at the same time (each outbox kind runs one).',
  },
  {
    name: 'CAREBOOK_WORKER_BATCH_SIZE',
    default: '500',
    description:
      'Webhook events claimed and settled in one transaction (of which at most 50 run SQL; the rest wait for the next).',
  },
  {
    name: 'CAREBOOK_WORKER_LEASE_SECONDS',
    default: '60',
    description:
      "How long a claimed outbound job is reserved for its provider call (whose timeout is a third of it, at most 20 s); after it, a stopped worker's jobs are claimed again.",
  },
  {
    name: 'CAREBOOK_WEBHOOK_MAX_ATTEMPTS',
    default: '8',
    description:
      'Attempts before an event becomes a dead letter (backoff 5 s · 2^n with full jitter, capped at 1 h).',
  },
  {
    name: 'CAREBOOK_WORKER_METRICS_PORT',
    default: '9464',
    description: '`carebook worker` serves /metrics and /healthz here (0 picks a free port).',
  },
  {
    name: 'LOG_LEVEL',
    default: 'info',
    description: 'pino level: fatal, error, warn, info, debug, trace or silent.',
  },
];
