// One pino logger per process. Secrets and patient data never reach it: auth headers, provider
// signatures and bodies are redacted at the source, and handlers log ids, never names or notes.
import pino, { type Logger } from 'pino';
import type { LogLevel } from '../config.js';
import { SIGNED_HEADERS } from '../webhooks/providers/index.js';

export type { Logger };

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  ...SIGNED_HEADERS.map((header) => `req.headers["${header}"]`),
  'databaseUrl',
  '*.password',
];

/**
 * Errors are logged as type, message, code and stack only. pino's default serializer copies every
 * enumerable property, and pg attaches whole objects to its errors (pg-pool's `client`, with its
 * connection settings and prepared statements: a 5 KB line).
 */
export function serializeError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const { code } = error as { code?: unknown };
  return {
    type: error.name,
    message: error.message,
    ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
    stack: error.stack,
  };
}

/** Query parameters whose values are secrets (Meta's verify token, tokens pasted into URLs). */
const SECRET_QUERY = /token|secret|signature|password|key|auth|code/i;

/** The request URL as logged: the path, and query values only where they cannot be secrets. */
export function loggableUrl(url: string): string {
  const query = url.indexOf('?');
  if (query < 0) return url;
  const params = new URLSearchParams(url.slice(query + 1));
  for (const name of new Set(params.keys())) if (SECRET_QUERY.test(name)) params.set(name, '[redacted]');
  return `${url.slice(0, query)}?${params.toString()}`;
}

/** A request as logged: method, URL (secrets in its query redacted) and client address. */
function serializeRequest(request: { method?: string; url?: string; ip?: string }) {
  return { method: request.method, url: loggableUrl(request.url ?? ''), remoteAddress: request.ip };
}

/** `destination` defaults to stdout (tests pass a stream to read what would be logged). */
export function createLogger(
  level: LogLevel,
  name = 'carebook',
  destination?: pino.DestinationStream,
): Logger {
  return pino(
    {
      name,
      level,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      serializers: { err: serializeError, req: serializeRequest },
    },
    destination,
  );
}
