// Provider accounts (integrations rows) and their secrets. A row names the environment variable
// that holds its secret(s) (secret_ref); the secrets themselves live only in the configuration.
import type { WebhookConfig } from '../config.js';
import type { Pool } from '../db/pool.js';
import { isUuid, withTenant } from '../db/tenant.js';
import type { ProviderName } from './providers/index.js';

export interface Integration {
  id: string;
  provider: ProviderName;
  secretRef: string;
}

/** The default account of each provider (00012), behind /webhooks/{provider}. */
export const DEFAULT_INTEGRATIONS: Record<ProviderName, string> = {
  stripe: '00000000-0000-4000-8000-000000000001',
  twilio: '00000000-0000-4000-8000-000000000002',
  whatsapp: '00000000-0000-4000-8000-000000000003',
  daily: '00000000-0000-4000-8000-000000000004',
};

const SERVICE = { dbRole: 'carebook_worker', appRole: 'service', userId: 'webhooks' } as const;

/** Looks integrations up, caching them briefly: ingestion must not cost an extra query per event. */
export class IntegrationDirectory {
  private readonly cache = new Map<string, { until: number; value: Integration | null }>();

  constructor(
    private readonly pool: Pool,
    private readonly ttlMs = 30_000,
  ) {}

  /** By id, or by name (`/webhooks/twilio/sms-status`); the provider's default account when omitted. */
  async find(
    provider: ProviderName,
    idOrName: string = DEFAULT_INTEGRATIONS[provider],
  ): Promise<Integration | null> {
    const key = `${provider}:${idOrName}`;
    const hit = this.cache.get(key);
    if (hit && Date.now() < hit.until) return hit.value;
    const value = await withTenant(this.pool, SERVICE, async (client) => {
      const result = await client.query<{ id: string; secret_ref: string }>(
        // A handful of rows, cached: matching id as text keeps one statement for both forms.
        'SELECT id, secret_ref FROM integrations WHERE provider = $2 AND is_active AND (id::text = $1 OR name = $1)',
        [isUuid(idOrName) ? idOrName.toLowerCase() : idOrName, provider],
      );
      const row = result.rows[0];
      return row ? { id: row.id, provider, secretRef: row.secret_ref } : null;
    });
    // A miss is remembered briefly only, so that a newly added account answers within seconds.
    this.cache.set(key, { until: Date.now() + (value ? this.ttlMs : 5_000), value });
    return value;
  }
}

export function secretsFor(config: WebhookConfig, integration: Integration): readonly string[] {
  return config.secrets[integration.secretRef] ?? [];
}

/** WhatsApp's handshake token of an account: WHATSAPP_APP_SECRET_X pairs with WHATSAPP_VERIFY_TOKEN_X. */
export function verifyTokensFor(config: WebhookConfig, integration: Integration): readonly string[] {
  return config.secrets[integration.secretRef.replace(/^WHATSAPP_APP_SECRET/, 'WHATSAPP_VERIFY_TOKEN')] ?? [];
}
