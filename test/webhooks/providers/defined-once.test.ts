// Each provider is defined once: its descriptor in src/webhooks/providers/ and its row in the
// webhook_providers table. This keeps the two equal, checks that each descriptor holds together,
// and fails when a provider is named by hand where it should be read from the descriptors: code
// in src/ and tools/, and the SQL of every migration after the one that made the lookup table.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handlerFor } from '../../../src/webhooks/handlers/index.js';
import { PROVIDER_NAMES, PROVIDERS, type WebhookProvider } from '../../../src/webhooks/providers/index.js';
import { ROOT } from '../../helpers/cli.js';
import { createTestDatabase, sql, type TestDatabase } from '../../helpers/db.js';
import { type Finding, handNamed, type Source, sourcesUnder } from '../../helpers/provider-names.js';
import { request } from './request.js';

const DESCRIPTORS: WebhookProvider[] = Object.values(PROVIDERS);
const LOOKUP_MIGRATION = /^\d{5}_webhook_providers\.sql$/;

/**
 * Files that may name a provider besides its own: a file is a provider's when its name is the
 * provider's (stripe.ts, stripe-state.ts, docs aside) in any folder — its descriptor, handlers,
 * outbound client and fake.
 */
const SHARED_BY_DESIGN: Record<string, { providers: string[]; why: string }> = {
  'src/webhooks/providers/index.ts': { providers: ['*'], why: 'the one list of providers' },
  'src/webhooks/handlers/twilio.ts': {
    providers: ['whatsapp'],
    why: 'Twilio carries WhatsApp messages too: "whatsapp" is the channel there',
  },
  'src/webhooks/handlers/messaging.ts': {
    providers: ['whatsapp'],
    why: 'a message channel (inbound_messages.channel: sms or whatsapp), not the provider',
  },
  'src/outbound/index.ts': { providers: ['*'], why: 'the one list of outbound providers' },
  'src/outbound/messages.ts': {
    providers: ['whatsapp'],
    why: 'a message channel (patients.message_channel: sms or whatsapp), not the provider',
  },
  'migrations/00022_outbox.sql': {
    providers: ['whatsapp'],
    why: "patients.message_channel's values (sms or whatsapp), a channel as inbound_messages.channel is",
  },
  'src/dev/fakes/index.ts': {
    providers: ['*'],
    why: "the fakes' registry (outbound work): a Record<ProviderName, …>, which the compiler keeps complete",
  },
  'src/dev/local-providers.ts': {
    providers: ['*'],
    why: 'how npm start wires each fake (its credentials and the variables naming it): a Record<ProviderName, …>, which the compiler keeps complete',
  },
};

function allowedFor(file: string): readonly string[] {
  const shared = SHARED_BY_DESIGN[file]?.providers ?? [];
  const own = path.basename(file).split(/[.-]/)[0] ?? '';
  return PROVIDER_NAMES.includes(own as never) ? [own, ...shared] : shared;
}

const describeFindings = (findings: Finding[]) =>
  findings.map((f) => `${f.file}:${f.line} names ${f.provider}: ${f.text}`);

describe('the descriptors', () => {
  it('are keyed by their names, with names, variables and default accounts of their own', () => {
    expect(DESCRIPTORS.length).toBeGreaterThan(3);
    for (const [key, provider] of Object.entries(PROVIDERS)) {
      expect(provider.name).toBe(key);
      expect(provider.name).toMatch(/^[a-z][a-z0-9_]{0,31}$/); // the lookup table's check
      expect(provider.title.length).toBeGreaterThan(0);
      expect(provider.signedHeaders.length).toBeGreaterThan(0);
      for (const header of provider.signedHeaders) expect(header).toBe(header.toLowerCase());
    }
    const variables = DESCRIPTORS.flatMap((p) => [p.secret.name, p.handshake?.token.name ?? []].flat());
    for (const name of variables) expect(name).toMatch(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
    expect(new Set(variables).size).toBe(variables.length);
    const ids = DESCRIPTORS.map((p) => p.defaultIntegrationId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("sign their secret-check probes the way their own verifiers accept, and no other secret's", () => {
    const secret = Buffer.from('a secret of thirty-two bytes ...').toString('base64');
    const other = Buffer.from('another secret, thirty-two bytes').toString('base64');
    for (const provider of DESCRIPTORS) {
      const url = `https://api.clinic.example/webhooks/${provider.name}`;
      const probe = provider.probe(secret, url);
      const sent = request(probe.body, probe.headers, url);
      expect(provider.verify(sent, { secrets: [secret] }), provider.name).toEqual({ ok: true });
      expect(provider.verify(sent, { secrets: [other] }), provider.name).toEqual({
        ok: false,
        reason: 'bad_signature',
      });
      expect(provider.parse(sent).length, provider.name).toBeGreaterThan(0);
      if (provider.handshake) {
        const check = provider.handshake.probe('the-token');
        expect(provider.handshake.answer(check.query, ['the-token'])).toBe(check.expect);
        expect(provider.handshake.answer(check.query, ['another-token'])).toBeNull();
      }
    }
  });

  it('give every event type its handler, and nothing for types they do not list', () => {
    for (const provider of DESCRIPTORS) {
      for (const [eventType, handler] of Object.entries(provider.handlers)) {
        expect(handlerFor({ provider: provider.name, eventType })).toBe(handler);
      }
      for (const eventType of ['carebook.secret_check', 'constructor', 'toString', '__proto__']) {
        expect(handlerFor({ provider: provider.name, eventType }), eventType).toBeNull();
      }
    }
    expect(handlerFor({ provider: 'constructor', eventType: 'name' })).toBeNull();
  });
});

describe('webhook_providers', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  it('holds exactly the descriptors: names, secret variables and default accounts', async () => {
    const rows = await sql(
      db.pool,
      `SELECT p.name, p.secret_variable, p.default_integration_id, i.name AS account, i.secret_ref, i.platform_wide
         FROM webhook_providers p LEFT JOIN integrations i ON i.id = p.default_integration_id AND i.provider = p.name
        ORDER BY p.name`,
    );
    expect(rows).toEqual(
      DESCRIPTORS.map((p) => ({
        name: p.name,
        secret_variable: p.secret.name,
        default_integration_id: p.defaultIntegrationId,
        account: 'default',
        secret_ref: p.secret.name,
        platform_wide: true,
      })).sort((a, b) => a.name.localeCompare(b.name)),
    );
  });

  it("refuses what the CHECK lists refused: an unknown provider, another provider's variable", async () => {
    const [stripe, twilio] = [PROVIDERS.stripe, PROVIDERS.twilio];
    const insert = (provider: string, secretRef: string) =>
      db.pool.query(
        `INSERT INTO integrations (provider, name, secret_ref, platform_wide) VALUES ($1, 'north', $2, true)`,
        [provider, secretRef],
      );
    await expect(insert('paypal', 'PAYPAL_SECRET')).rejects.toMatchObject({ code: '23503' });
    await expect(insert(stripe.name, twilio.secret.name)).rejects.toMatchObject({
      code: '23514',
      constraint: 'integrations_secret_ref_names_provider',
    });
    await expect(insert(stripe.name, `${stripe.secret.name}X`)).rejects.toMatchObject({ code: '23514' });
    await insert(stripe.name, `${stripe.secret.name}_NORTH`);
    await expect(
      db.pool.query(`UPDATE integrations SET secret_ref = $1 WHERE name = 'north'`, [twilio.secret.name]),
    ).rejects.toMatchObject({ code: '23514' });
  });

  it("stores no event under another provider than its account's, and lets no role add a provider", async () => {
    const [stripe, twilio] = [PROVIDERS.stripe, PROVIDERS.twilio];
    const event = (provider: string) =>
      db.pool.query(
        `WITH r AS (INSERT INTO webhook_requests (webhook_id, raw_body, request_url) VALUES ($1, '\\x', 'x') RETURNING id)
         INSERT INTO webhook_events (webhook_id, provider, event_id, event_type, payload, request_id)
         SELECT $1, $2, gen_random_uuid()::text, 'x', '{}', r.id FROM r`,
        [stripe.defaultIntegrationId, provider],
      );
    await expect(event(twilio.name)).rejects.toMatchObject({ code: '23503' });
    await event(stripe.name);
    for (const role of ['carebook_admin', 'carebook_worker', 'carebook_app']) {
      const client = await db.pool.connect();
      try {
        await client.query(`BEGIN; SET LOCAL ROLE ${role}`);
        await expect(
          client.query(
            `INSERT INTO webhook_providers (name, secret_variable, default_integration_id) VALUES ('paypal', 'PAYPAL_SECRET', gen_random_uuid())`,
          ),
        ).rejects.toMatchObject({ code: '42501' });
      } finally {
        await client.query('ROLLBACK');
        client.release();
      }
    }
  });
});

describe('nothing else names a provider', () => {
  let sources: Source[];
  beforeAll(async () => {
    const code = (file: string) => /\.(ts|mts|js|mjs|sh)$/.test(file);
    const migrations = await sourcesUnder(ROOT, 'migrations', (file) => /\.(sql|js)$/.test(file));
    const lookup = migrations.findIndex((source) => LOOKUP_MIGRATION.test(path.basename(source.file)));
    expect(lookup, 'the migration that creates webhook_providers').toBeGreaterThan(0);
    sources = [
      ...(await sourcesUnder(ROOT, 'src', code)),
      ...(await sourcesUnder(ROOT, 'tools', code)),
      ...migrations.slice(lookup + 1),
    ];
    expect(sources.length).toBeGreaterThan(100);
  });

  it('in src/, tools/ and the migrations after the lookup table, outside the files that own it', () => {
    expect(describeFindings(handNamed(sources, DESCRIPTORS, allowedFor))).toEqual([]);
  });

  it('catches a planted name, variable, header or account id, and ignores comments', () => {
    const [stripe, whatsapp] = [PROVIDERS.stripe, PROVIDERS.whatsapp];
    const planted: Source[] = [
      { file: 'src/webhooks/routes.ts', text: `if (provider.name === '${stripe.name}') reply.send();` },
      { file: 'src/http/app.ts', text: `const token = process.env.${whatsapp.handshake?.token.name}_NORTH;` },
      {
        file: 'src/observability/logger.ts',
        text: `const paths = ['req.headers["${stripe.signedHeaders[0]}"]'];`,
      },
      {
        file: 'src/cli/ops.ts',
        text: `const ids = { ${whatsapp.name}: '${whatsapp.defaultIntegrationId}' };`,
      },
      { file: 'tools/queue_status.sh', text: `psql -c "SELECT 1" --set p=${stripe.name} # ${whatsapp.name}` },
      {
        file: 'migrations/00099_later.sql',
        text: `-- ${whatsapp.name} is fine in a comment\nALTER TABLE x ADD CHECK (provider IN ('${stripe.name}'));`,
      },
      {
        file: 'src/http/errors.ts',
        text: `// ${stripe.title} and ${whatsapp.name} in a comment are prose\n/* ${stripe.name} */`,
      },
    ];
    expect(
      handNamed(planted, DESCRIPTORS, allowedFor).map((f) => `${f.file}:${f.line} ${f.provider}`),
    ).toEqual([
      'src/webhooks/routes.ts:1 stripe',
      'src/http/app.ts:1 whatsapp',
      'src/observability/logger.ts:1 stripe',
      'src/cli/ops.ts:1 whatsapp',
      'src/cli/ops.ts:1 whatsapp',
      'tools/queue_status.sh:1 stripe',
      'migrations/00099_later.sql:2 stripe',
    ]);
    // A provider's own files may name it, and only it.
    const own: Source = {
      file: 'src/outbound/clients/stripe.ts',
      text: `'${stripe.name}' + '${whatsapp.name}'`,
    };
    expect(handNamed([own], DESCRIPTORS, allowedFor).map((f) => f.provider)).toEqual(['whatsapp']);
  });
});
