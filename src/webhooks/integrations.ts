// Provider accounts (integrations rows) and their secrets. A row names the environment variable
// that holds its secret(s) (secret_ref); the secrets themselves live only in the configuration.
import { LRUCache } from 'lru-cache';
import type { WebhookConfig } from '../config.js';
import type { Pool } from '../db/pool.js';
import { isUuid, withTenant } from '../db/tenant.js';
import { PROVIDERS, type ProviderName, type WebhookProvider } from './providers/index.js';

export interface Integration {
  id: string;
  provider: ProviderName;
  secretRef: string;
}

/** The default account of each provider, behind /webhooks/{provider}. */
export const DEFAULT_INTEGRATIONS = Object.fromEntries(
  Object.values(PROVIDERS).map((provider) => [provider.name, provider.defaultIntegrationId]),
) as Record<ProviderName, string>;

const SERVICE = { dbRole: 'carebook_worker', appRole: 'service', userId: 'webhooks' } as const;

/**
 * Looks integrations up, caching them: ingestion must not cost an extra query per event, and the
 * name in `/webhooks/{provider}/{name}` comes from unauthenticated requests. So the cache is an
 * LRU of bounded size that also remembers misses: an unknown name costs one query, then none
 * until its entry ages out (rate limits bound how many new names one address can try).
 */
export class IntegrationDirectory {
  private readonly cache: LRUCache<string, { value: Integration | null }>;

  constructor(
    private readonly pool: Pool,
    options: { maxEntries?: number; ttlMs?: number } = {},
  ) {
    this.cache = new LRUCache({ max: options.maxEntries ?? 10_000, ttl: options.ttlMs ?? 30_000 });
  }

  /** Entries held now (a test checks the bound). */
  get size(): number {
    return this.cache.size;
  }

  /** By id, or by name (`/webhooks/twilio/sms-status`); the provider's default account when omitted. */
  async find(
    provider: ProviderName,
    idOrName: string = DEFAULT_INTEGRATIONS[provider],
  ): Promise<Integration | null> {
    const key = `${provider}:${idOrName}`;
    const hit = this.cache.get(key);
    if (hit) return hit.value;
    const value = await withTenant(this.pool, SERVICE, async (client) => {
      const result = await client.query<{ id: string; secret_ref: string }>(
        // A handful of rows, cached: matching id as text keeps one statement for both forms.
        'SELECT id, secret_ref FROM integrations WHERE provider = $2 AND is_active AND (id::text = $1 OR name = $1)',
        [isUuid(idOrName) ? idOrName.toLowerCase() : idOrName, provider],
      );
      const row = result.rows[0];
      return row ? { id: row.id, provider, secretRef: row.secret_ref } : null;
    });
    this.cache.set(key, { value });
    return value;
  }
}

export function secretsFor(config: WebhookConfig, integration: Integration): readonly string[] {
  return config.secrets[integration.secretRef] ?? [];
}

/** An account's handshake tokens: the token variable with its secret_ref's suffix (`…_NORTHSIDE`). */
export function handshakeTokensFor(
  config: WebhookConfig,
  provider: WebhookProvider,
  integration: Integration,
): readonly string[] {
  if (!provider.handshake || !integration.secretRef.startsWith(provider.secret.name)) return [];
  const suffix = integration.secretRef.slice(provider.secret.name.length);
  return config.secrets[`${provider.handshake.token.name}${suffix}`] ?? [];
}
