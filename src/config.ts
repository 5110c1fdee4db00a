// Configuration: read from the environment once, validated, frozen. A bad value stops the process
// with a message that names the variable and says how to fix it. ENV_VARS is the single list of
// what Carebook reads; the README's configuration table is checked against it by a test.
import path from 'node:path';

export interface EnvVar {
  name: string;
  default: string;
  description: string;
}

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
    name: 'CAREBOOK_HOLD_MINUTES',
    default: '15',
    description: 'How long an unpaid booking holds its slot before the sweeper expires it.',
  },
  {
    name: 'STRIPE_WEBHOOK_SECRET',
    default: '(unset: 503)',
    description:
      'Stripe endpoint signing secret(s) `whsec_…`, comma-separated during a rotation. `STRIPE_WEBHOOK_SECRET_<NAME>` for further accounts (integrations.secret_ref).',
  },
  {
    name: 'TWILIO_AUTH_TOKEN',
    default: '(unset: 503)',
    description:
      'Twilio Auth Token(s) that sign its webhooks; comma-separated during a rotation; `_<NAME>` suffix for further accounts.',
  },
  {
    name: 'WHATSAPP_APP_SECRET',
    default: '(unset: 503)',
    description:
      'Meta App Secret(s) for `X-Hub-Signature-256`; comma-separated during a rotation; `_<NAME>` suffix for further accounts.',
  },
  {
    name: 'WHATSAPP_VERIFY_TOKEN',
    default: '(unset: 403)',
    description:
      'Token Meta sends in the subscription handshake (`GET /webhooks/whatsapp`); `_<NAME>` suffix matches `WHATSAPP_APP_SECRET_<NAME>`.',
  },
  {
    name: 'DAILY_WEBHOOK_SECRET',
    default: '(unset: 503)',
    description:
      'Daily webhook `hmac` secret(s) (base64); comma-separated during a rotation; `_<NAME>` suffix for further accounts.',
  },
  {
    name: 'CAREBOOK_PUBLIC_URL',
    default: '(unset: from the Host header)',
    description:
      'Public base URL providers call, e.g. https://api.clinic.example (Twilio signs the full URL).',
  },
  {
    name: 'CAREBOOK_WORKER_CONCURRENCY',
    default: '2',
    description: 'Batches one worker process handles at the same time.',
  },
  {
    name: 'CAREBOOK_WORKER_BATCH_SIZE',
    default: '100',
    description: 'Events claimed together (committed 50 to a transaction).',
  },
  {
    name: 'CAREBOOK_WORKER_LEASE_SECONDS',
    default: '60',
    description:
      "How long a claimed event is reserved; after it, a killed worker's events are claimed again.",
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

export interface Config {
  port: number;
  host: string;
  databaseUrl: string | null;
  dataDir: string;
  dbPoolMax: number;
  /** The secret that signs development tokens (the first of CAREBOOK_JWT_SECRET). */
  jwtSecret: string | null;
  /** Every secret tokens are verified with (all of CAREBOOK_JWT_SECRET, during a rotation). */
  jwtVerificationSecrets: readonly string[];
  jwksUrl: string | null;
  jwtIssuer: string | null;
  jwtAudience: string | null;
  holdMinutes: number;
  logLevel: LogLevel;
  webhooks: WebhookConfig;
  worker: WorkerConfig;
}

export interface WebhookConfig {
  /** Environment-variable name (integrations.secret_ref) → its secrets, several during a rotation. */
  secrets: Readonly<Record<string, readonly string[]>>;
  publicUrl: string | null;
}

export interface WorkerConfig {
  concurrency: number;
  batchSize: number;
  leaseSeconds: number;
  maxAttempts: number;
  metricsPort: number;
}

/** Names of provider secret variables; `<NAME>_<SUFFIX>` variants hold further accounts' secrets. */
export const SECRET_VARIABLES = [
  'STRIPE_WEBHOOK_SECRET',
  'TWILIO_AUTH_TOKEN',
  'WHATSAPP_APP_SECRET',
  'WHATSAPP_VERIFY_TOKEN',
  'DAILY_WEBHOOK_SECRET',
] as const;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/** Reads and validates the environment. Throws ConfigError listing every problem at once. */
export function loadConfig(env: Env = process.env, cwd = process.cwd()): Config {
  const problems: string[] = [];
  const read = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name}=${JSON.stringify(raw)} is not a whole number from ${min} to ${max}`);
      return fallback;
    }
    return value;
  };

  const databaseUrl = read('DATABASE_URL') ?? null;
  if (databaseUrl !== null) {
    const problem = checkDatabaseUrl(databaseUrl);
    if (problem) problems.push(problem);
  }

  // Several comma-separated secrets during a rotation: the first signs, any verifies.
  const jwtSecrets = (read('CAREBOOK_JWT_SECRET') ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
  if (jwtSecrets.some((part) => part.length < 32)) {
    problems.push(
      'CAREBOOK_JWT_SECRET is shorter than 32 characters; generate one with `openssl rand -base64 48`',
    );
  }
  const jwtSecret = jwtSecrets[0] ?? null;

  const jwksUrl = read('CAREBOOK_JWKS_URL') ?? null;
  if (jwksUrl !== null && !/^https?:\/\/\S+$/.test(jwksUrl)) {
    problems.push(
      'CAREBOOK_JWKS_URL must be an http(s) URL, e.g. https://id.example.com/.well-known/jwks.json',
    );
  }

  const secrets: Record<string, string[]> = {};
  const base = {
    STRIPE_WEBHOOK_SECRET: read('STRIPE_WEBHOOK_SECRET'),
    TWILIO_AUTH_TOKEN: read('TWILIO_AUTH_TOKEN'),
    WHATSAPP_APP_SECRET: read('WHATSAPP_APP_SECRET'),
    WHATSAPP_VERIFY_TOKEN: read('WHATSAPP_VERIFY_TOKEN'),
    DAILY_WEBHOOK_SECRET: read('DAILY_WEBHOOK_SECRET'),
  };
  const suffixed = Object.keys(env).filter((name) =>
    SECRET_VARIABLES.some((prefix) => new RegExp(`^${prefix}(_[A-Z0-9]+)+$`).test(name)),
  );
  for (const [name, value] of [
    ...Object.entries(base),
    ...suffixed.map((name) => [name, env[name]?.trim()] as const),
  ]) {
    const list = (value ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
    if (list.length > 0) secrets[name] = list;
  }
  const publicUrl = read('CAREBOOK_PUBLIC_URL') ?? null;
  if (publicUrl !== null && !/^https?:\/\/[^/?#\s]+(\/[^?#\s]*)?$/.test(publicUrl)) {
    problems.push('CAREBOOK_PUBLIC_URL must be the public base URL, e.g. https://api.clinic.example');
  }

  const logLevel = (read('LOG_LEVEL') ?? 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    problems.push(`LOG_LEVEL=${JSON.stringify(logLevel)} is not one of ${LOG_LEVELS.join(', ')}`);
  }

  const config: Config = {
    port: integer('PORT', 3000, 0, 65535),
    host: read('HOST') ?? '127.0.0.1',
    databaseUrl,
    dataDir: path.resolve(cwd, read('CAREBOOK_DATA_DIR') ?? '.carebook'),
    dbPoolMax: integer('CAREBOOK_DB_POOL_MAX', 20, 1, 500),
    jwtSecret,
    jwtVerificationSecrets: jwtSecrets,
    jwksUrl,
    jwtIssuer: read('CAREBOOK_JWT_ISSUER') ?? null,
    jwtAudience: read('CAREBOOK_JWT_AUDIENCE') ?? null,
    holdMinutes: integer('CAREBOOK_HOLD_MINUTES', 15, 1, 24 * 60),
    webhooks: { secrets, publicUrl: publicUrl?.replace(/\/+$/, '') ?? null },
    worker: {
      concurrency: integer('CAREBOOK_WORKER_CONCURRENCY', 2, 1, 32),
      batchSize: integer('CAREBOOK_WORKER_BATCH_SIZE', 100, 1, 500),
      leaseSeconds: integer('CAREBOOK_WORKER_LEASE_SECONDS', 60, 5, 3600),
      maxAttempts: integer('CAREBOOK_WEBHOOK_MAX_ATTEMPTS', 8, 1, 50),
      metricsPort: integer('CAREBOOK_WORKER_METRICS_PORT', 9464, 0, 65535),
    },
    logLevel: logLevel as LogLevel,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}

/** Returns a one-line problem description, or null when the URL is usable. Never echoes a password. */
export function checkDatabaseUrl(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'DATABASE_URL is not a URL; expected postgres://user:password@host:5432/database';
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    return `DATABASE_URL has scheme "${url.protocol}"; expected postgres://user:password@host:5432/database`;
  }
  if (url.pathname.length <= 1) {
    return 'DATABASE_URL names no database; add it as the path, e.g. postgres://user@host:5432/carebook';
  }
  return null;
}

/** The URL without its password, for messages and logs. */
export function redactDatabaseUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '(unparseable DATABASE_URL)';
  }
}
