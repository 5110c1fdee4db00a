// One pino logger per process. Secrets and patient data never reach it: auth headers, provider
// signatures and bodies are redacted at the source, and handlers log ids, never names or notes.
import pino, { type Logger } from 'pino';
import type { LogLevel } from '../config.js';

export type { Logger };

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["stripe-signature"]',
  'req.headers["x-twilio-signature"]',
  'req.headers["x-hub-signature-256"]',
  'req.headers["x-webhook-signature"]',
  'databaseUrl',
  '*.password',
];

export function createLogger(level: LogLevel, name = 'carebook'): Logger {
  return pino({ name, level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } });
}
