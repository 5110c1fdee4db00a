// The provider registry: every provider name maps to its module.
import { describe, expect, it } from 'vitest';
import { PROVIDERS } from '../../../src/webhooks/providers/index.js';

describe('PROVIDERS', () => {
  it('maps every provider name to its module, and only Daily has a test ping', () => {
    expect(Object.keys(PROVIDERS).sort()).toEqual(['daily', 'stripe', 'twilio', 'whatsapp']);
    for (const [name, provider] of Object.entries(PROVIDERS)) expect(provider.name).toBe(name);
    expect(PROVIDERS.daily.signedHeaders).toEqual(['x-webhook-signature', 'x-webhook-timestamp']);
    expect(
      Object.values(PROVIDERS)
        .filter((p) => p.isTestPing)
        .map((p) => p.name),
    ).toEqual(['daily']);
  });
});
