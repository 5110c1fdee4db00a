// Configuration: read from the environment once, validated, frozen. A bad value stops the process
// with a message that names the variable and says how to fix it. ENV_VARS is the single list of
// what Carebook reads; the README's configuration table is checked against it by a test.
import path from 'node:path';
import { ConfigError } from './config-error.js';
import { type OutboundConfig, readOutbound } from './outbound/index.js';
import { PROVIDER_SECRETS } from './webhooks/providers/index.js';

export { ENV_VARS, type EnvVar } from './env-vars.js';

export interface Config {
  port: number;
  host: string;
  databaseUrl: string | null;
  /** A read replica for read-only listings, or null (reads then use the primary). */
  readDatabaseUrl: string | null;
  dataDir: string;
  dbPoolMax: number;
  /** The secret that signs development tokens (the first of CAREBOOK_JWT_SECRET). */
  jwtSecret: string | null;
  /** Every secret tokens are verified with (all of CAREBOOK_JWT_SECRET, during a rotation). */
  jwtVerificationSecrets: readonly string[];
  jwksUrl: string | null;
  jwtIssuer: string | null;
  jwtAudience: string | null;
  /** Longest accepted bearer-token lifetime, in seconds. */
  jwtMaxAgeSeconds: number;
  holdMinutes: number;
  logLevel: LogLevel;
  database: DatabaseConfig;
  http: HttpConfig;
  webhooks: WebhookConfig;
  worker: WorkerConfig;
  outbound: OutboundConfig;
}

export const POOLING_MODES = ['auto', 'session', 'transaction'] as const;
export type PoolingMode = (typeof POOLING_MODES)[number];

export interface DatabaseConfig {
  pooling: PoolingMode;
  /** Direct URL for LISTEN; null: DATABASE_URL unless it is transaction-pooled (then: polling). */
  listenUrl: string | null;
  allowSuperuser: boolean;
}

export interface HttpConfig {
  requestTimeoutSeconds: number;
  maxConnections: number;
  /** Proxy addresses/CIDRs whose X-Forwarded-For is believed; empty: none. */
  trustProxy: readonly string[];
  corsOrigins: readonly string[];
  rateLimits: { authFailures: number; bookings: number; webhookFailures: number; windowSeconds: number };
  metricsToken: string | null;
  /** Own port for the API's /metrics; null: the API port, behind metricsToken only. */
  metricsPort: number | null;
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

/** Names of the provider secret variables; `<NAME>_<SUFFIX>` variants hold further accounts' secrets. */
export const SECRET_VARIABLES: readonly string[] = PROVIDER_SECRETS.map((variable) => variable.name);

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export { ConfigError };

type Env = Record<string, string | undefined>;

/** Reads and validates the environment. Throws ConfigError listing every problem at once. */
export function loadConfig(env: Env = process.env, cwd = process.cwd()): Config {
  const problems: string[] = [];
  const read = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };
  const list = (name: string): string[] =>
    (read(name) ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
  const flag = (name: string): boolean => {
    const raw = (read(name) ?? 'false').toLowerCase();
    if (raw !== 'true' && raw !== 'false')
      problems.push(`${name}=${JSON.stringify(raw)} must be true or false`);
    return raw === 'true';
  };
  const duration = (name: string, fallback: string): number => {
    const raw = read(name) ?? fallback;
    const seconds = parseDuration(raw);
    if (seconds === null) {
      problems.push(`${name}=${JSON.stringify(raw)} is not a duration; write it like 30m, 12h or 1d`);
      return parseDuration(fallback) ?? 0;
    }
    return seconds;
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
  const readDatabaseUrl = read('CAREBOOK_READ_DATABASE_URL') ?? null;
  if (readDatabaseUrl !== null) {
    const problem = checkDatabaseUrl(readDatabaseUrl);
    if (problem)
      problems.push(`CAREBOOK_READ_DATABASE_URL: ${problem.replace(/^DATABASE_URL /, 'the value ')}`);
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

  const secrets = readSecrets(env);
  const publicUrl = read('CAREBOOK_PUBLIC_URL') ?? null;
  if (publicUrl !== null && !/^https?:\/\/[^/?#\s]+(\/[^?#\s]*)?$/.test(publicUrl)) {
    problems.push('CAREBOOK_PUBLIC_URL must be the public base URL, e.g. https://api.clinic.example');
  }

  const pooling = (read('CAREBOOK_DATABASE_POOLING') ?? 'auto').toLowerCase();
  if (!(POOLING_MODES as readonly string[]).includes(pooling)) {
    problems.push(
      `CAREBOOK_DATABASE_POOLING=${JSON.stringify(pooling)} is not one of ${POOLING_MODES.join(', ')} (transaction: PgBouncer in transaction mode)`,
    );
  }
  const listenUrl = read('CAREBOOK_LISTEN_DATABASE_URL') ?? null;
  if (listenUrl !== null) {
    const problem = checkDatabaseUrl(listenUrl);
    if (problem) problems.push(problem.replace('DATABASE_URL', 'CAREBOOK_LISTEN_DATABASE_URL'));
  }
  const corsOrigins = list('CAREBOOK_CORS_ORIGINS');
  for (const origin of corsOrigins) {
    if (!/^https?:\/\/[^/?#\s]+$/.test(origin)) {
      problems.push(
        `CAREBOOK_CORS_ORIGINS: "${origin}" is not an origin; write scheme and host only, e.g. https://app.clinic.example`,
      );
    }
  }

  const reminderOffsets = list('CAREBOOK_REMINDER_OFFSETS');
  const offsets = (reminderOffsets.length > 0 ? reminderOffsets : ['24h', '1h']).map((text) => {
    const seconds = parseDuration(text);
    if (seconds === null) {
      problems.push(
        `CAREBOOK_REMINDER_OFFSETS: "${text}" is not a duration; write them like 24h,1h or 2d,30m`,
      );
    }
    return seconds ?? 0;
  });
  const url = (name: string, fallback: string, origin: boolean): string => {
    const value = (read(name) ?? fallback).replace(/\/+$/, '');
    const shape = origin ? /^https?:\/\/[^/?#\s]+$/ : /^https?:\/\/[^/?#\s]+(\/[^?#\s]*)?$/;
    if (!shape.test(value))
      problems.push(`${name} must be an http(s) ${origin ? 'origin' : 'URL'}, e.g. ${fallback}`);
    return value;
  };
  const outbound = readOutbound(
    {
      read,
      url: (name, fallback) => url(name, fallback, false),
      origin: (name, fallback) => url(name, fallback, true),
      firstSecret: (name) => secrets[name]?.[0],
    },
    offsets,
  );

  const logLevel = (read('LOG_LEVEL') ?? 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    problems.push(`LOG_LEVEL=${JSON.stringify(logLevel)} is not one of ${LOG_LEVELS.join(', ')}`);
  }

  const config: Config = {
    port: integer('PORT', 3000, 0, 65535),
    host: read('HOST') ?? '127.0.0.1',
    databaseUrl,
    readDatabaseUrl,
    dataDir: path.resolve(cwd, read('CAREBOOK_DATA_DIR') ?? '.carebook'),
    dbPoolMax: integer('CAREBOOK_DB_POOL_MAX', 20, 1, 500),
    jwtSecret,
    jwtVerificationSecrets: jwtSecrets,
    jwksUrl,
    jwtIssuer: read('CAREBOOK_JWT_ISSUER') ?? null,
    jwtAudience: read('CAREBOOK_JWT_AUDIENCE') ?? null,
    jwtMaxAgeSeconds: duration('CAREBOOK_JWT_MAX_AGE', '12h'),
    holdMinutes: integer('CAREBOOK_HOLD_MINUTES', 15, 1, 24 * 60),
    database: {
      pooling: pooling as PoolingMode,
      listenUrl,
      allowSuperuser: flag('CAREBOOK_ALLOW_SUPERUSER'),
    },
    http: {
      requestTimeoutSeconds: integer('CAREBOOK_REQUEST_TIMEOUT_SECONDS', 30, 1, 3600),
      maxConnections: integer('CAREBOOK_MAX_CONNECTIONS', 2000, 1, 1_000_000),
      trustProxy: list('CAREBOOK_TRUST_PROXY'),
      corsOrigins,
      rateLimits: {
        authFailures: integer('CAREBOOK_RATE_LIMIT_AUTH_FAILURES', 20, 0, 1_000_000),
        bookings: integer('CAREBOOK_RATE_LIMIT_BOOKINGS', 30, 0, 1_000_000),
        webhookFailures: integer('CAREBOOK_RATE_LIMIT_WEBHOOK_FAILURES', 60, 0, 1_000_000),
        windowSeconds: integer('CAREBOOK_RATE_LIMIT_WINDOW_SECONDS', 60, 1, 86_400),
      },
      metricsToken: read('CAREBOOK_METRICS_TOKEN') ?? null,
      metricsPort:
        read('CAREBOOK_METRICS_PORT') === undefined ? null : integer('CAREBOOK_METRICS_PORT', 0, 0, 65535),
    },
    webhooks: { secrets, publicUrl: publicUrl?.replace(/\/+$/, '') ?? null },
    worker: {
      concurrency: integer('CAREBOOK_WORKER_CONCURRENCY', 2, 1, 32),
      batchSize: integer('CAREBOOK_WORKER_BATCH_SIZE', 500, 1, 1000),
      leaseSeconds: integer('CAREBOOK_WORKER_LEASE_SECONDS', 60, 5, 3600),
      maxAttempts: integer('CAREBOOK_WEBHOOK_MAX_ATTEMPTS', 8, 1, 50),
      metricsPort: integer('CAREBOOK_WORKER_METRICS_PORT', 9464, 0, 65535),
    },
    outbound,
    logLevel: logLevel as LogLevel,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}

/**
 * Every provider secret variable that is set, and each `<NAME>_<SUFFIX>` variant of one: variable
 * name → its secrets (comma-separated during a rotation, spaces trimmed). Unset or blank: absent.
 */
export function readSecrets(env: Env): Record<string, string[]> {
  const secrets: Record<string, string[]> = {};
  for (const name of Object.keys(env).sort()) {
    if (
      !SECRET_VARIABLES.some((prefix) => name === prefix || new RegExp(`^${prefix}(_[A-Z0-9]+)+$`).test(name))
    )
      continue;
    const list = (env[name] ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
    if (list.length > 0) secrets[name] = list;
  }
  return secrets;
}

/** "90", "90s", "30m", "12h", "1d" → seconds; null when it is not such a duration (or zero). */
export function parseDuration(value: string): number | null {
  const match = /^(\d+)\s*(s|m|h|d)?$/.exec(value.trim());
  if (!match) return null;
  const unit = { s: 1, m: 60, h: 3600, d: 86_400 }[(match[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
  const seconds = Number(match[1]) * unit;
  return seconds > 0 ? seconds : null;
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
