// The development JWT secret: when CAREBOOK_JWT_SECRET is unset, `carebook dev` generates one into
// the data directory (mode 0600) so that demo tokens keep working across restarts. Production
// sets CAREBOOK_JWT_SECRET or CAREBOOK_JWKS_URL; `carebook serve` never invents a secret.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';

const FILE = 'dev-jwt-secret';

export async function devJwtSecret(dataDir: string, create: boolean): Promise<string | null> {
  const file = path.join(dataDir, FILE);
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  if (!create) return null;
  await mkdir(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/** The configuration with a development secret filled in, unless a secret or JWKS is configured. */
export async function withDevSecret(config: Config): Promise<Config> {
  if (config.jwtSecret || config.jwksUrl) return config;
  const secret = await devJwtSecret(config.dataDir, true);
  return Object.freeze({ ...config, jwtSecret: secret, jwtVerificationSecrets: secret ? [secret] : [] });
}
