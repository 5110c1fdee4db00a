// POST /webhooks/{provider}[/{integration_id}] — ingestion — and the WhatsApp subscription
// handshake. Bodies are kept as raw bytes (signatures cover bytes, not parsed JSON). A provider is
// told 200 for anything stored or already stored, 401 for a bad signature (nothing stored), 503
// when its secret is not configured (so nothing unsigned is ever accepted).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WebhookConfig } from '../config.js';
import type { Pool } from '../db/pool.js';
import type { FailureLimiter } from '../http/edge.js';
import { problem } from '../http/errors.js';
import { MAX_BODY_BYTES } from '../http/limits.js';
import { DATABASE, problemResponses } from '../http/responses.js';
import { ref } from '../http/schemas.js';
import type { TypedApp } from '../http/types.js';
import type { Metrics } from '../observability/metrics.js';
import { ingestWebhook, WorkerNotifier } from './ingest.js';
import { handshakeTokensFor, IntegrationDirectory } from './integrations.js';
import {
  PROVIDER_NAMES,
  providerNamed,
  providersWith,
  type RawWebhookRequest,
  titlesOf,
} from './providers/index.js';
import {
  AccountParams,
  HandshakeChallenge,
  HandshakeQuery,
  ProviderParams,
  WebhookAccepted,
} from './schemas.js';

export interface WebhookRouteDeps {
  pool: Pool;
  metrics: Metrics;
  webhooks: WebhookConfig;
  /** Bad signatures (and unknown accounts) per client address; null: no limit. */
  signatureFailures?: FailureLimiter | null;
}

const REPLIES = providersWith('reply');
const HANDSHAKES = providersWith('handshake');

export async function webhookRoutes(app: FastifyInstance, deps: WebhookRouteDeps): Promise<void> {
  const api = app as TypedApp;
  const integrations = new IntegrationDirectory(deps.pool);
  const ingest = { ...deps, notifier: new WorkerNotifier(deps.pool) };
  const warned = new Map<string, number>();

  // Raw bytes for every content type (Stripe/Meta/Daily send JSON, Twilio forms or JSON).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_BODY_BYTES }, (_request, body, done) =>
    done(null, body),
  );

  const resolve = async (
    request: FastifyRequest<{ Params: { provider: string; integrationId?: string } }>,
  ) => {
    const provider = providerNamed(request.params.provider);
    if (!provider) throw problem('unknown_provider', `Known: ${PROVIDER_NAMES.join(', ')}.`);
    const integration = await integrations.find(provider.name, request.params.integrationId);
    if (!integration) throw problem('integration_not_found');
    return { provider, integration };
  };

  const failures = deps.signatureFailures ?? null;
  const receive = async (
    request: FastifyRequest<{ Params: { provider: string; integrationId?: string } }>,
    reply: FastifyReply,
  ) => {
    await failures?.refuseIfExceeded(request);
    const { provider, integration } = await resolve(request).catch(async (error: unknown) => {
      await failures?.countFailure(request);
      throw error;
    });
    if (provider.signsUrl && deps.webhooks.publicUrl === null) {
      throw problem(
        'provider_not_configured',
        `${provider.name} signs the URL it calls: set CAREBOOK_PUBLIC_URL to the public base URL (e.g. https://api.clinic.example); it is never taken from the Host header.`,
      );
    }
    const raw: RawWebhookRequest = {
      // Only CAREBOOK_PUBLIC_URL names the host: the Host header is the caller's to choose.
      url: `${deps.webhooks.publicUrl ?? ''}${request.url}`,
      headers: request.headers as Record<string, string | undefined>,
      body: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
    };
    const result = await ingestWebhook(ingest, provider, integration, raw);
    switch (result.kind) {
      case 'not_configured': {
        const last = warned.get(integration.secretRef) ?? 0;
        if (Date.now() - last > 60_000) {
          warned.set(integration.secretRef, Date.now());
          request.log.warn(
            { provider: provider.name, secretRef: integration.secretRef },
            `webhook refused: set ${integration.secretRef} to accept ${provider.name} events`,
          );
        }
        throw problem('provider_not_configured', `${provider.name} webhooks are not configured here.`);
      }
      case 'rejected':
        await failures?.countFailure(request);
        throw problem('invalid_signature', result.reason);
      case 'test_ping':
        return reply.code(200).send({ received: 0, duplicates: 0 });
      default:
        if (provider.reply) return reply.code(200).type(provider.reply.contentType).send(provider.reply.body);
        return reply.code(200).send({ received: result.inserted, duplicates: result.duplicates });
    }
  };

  const tags = ['webhooks'];
  const receiveSchema = {
    tags,
    security: [],
    description:
      "Verified with the provider's signature scheme on the raw bytes, then stored once; the worker handles it later.",
    response: {
      200: {
        description: `Stored, or stored before (a duplicate): the counts as JSON${REPLIES.map((p) => `; ${p.title} gets ${p.reply.summary} instead`).join('')}.`,
        content: {
          'application/json': { schema: ref(WebhookAccepted) },
          ...Object.fromEntries(REPLIES.map((p) => [p.reply.contentType, { schema: p.reply.schema }])),
        },
      },
      ...problemResponses(
        'validation_error',
        'invalid_signature',
        'unknown_provider',
        'integration_not_found',
        'payload_too_large',
        'rate_limited',
        'provider_not_configured',
        ...DATABASE,
      ),
    },
  };
  api.post(
    '/webhooks/:provider',
    {
      schema: {
        ...receiveSchema,
        operationId: 'receiveWebhook',
        summary: 'Receive a provider webhook (default account)',
        params: ProviderParams,
      },
    },
    receive,
  );
  api.post(
    '/webhooks/:provider/:integrationId',
    {
      schema: {
        ...receiveSchema,
        operationId: 'receiveAccountWebhook',
        summary: 'Receive a webhook for one provider account',
        params: AccountParams,
      },
    },
    receive,
  );

  const handshake = async (
    request: FastifyRequest<{
      Params: { provider: string; integrationId?: string };
      Querystring: Record<string, string | undefined>;
    }>,
    reply: FastifyReply,
  ) => {
    const { provider, integration } = await resolve(request);
    if (!provider.handshake) {
      throw problem('method_not_allowed', `GET is the handshake of ${titlesOf(HANDSHAKES)} only.`);
    }
    const answer = provider.handshake.answer(
      request.query,
      handshakeTokensFor(deps.webhooks, provider, integration),
    );
    if (answer === null) throw problem('forbidden', 'The verify token does not match.');
    return reply.code(200).type('text/plain').send(answer);
  };
  const handshakeSchema = {
    tags,
    security: [],
    summary: HANDSHAKES.map((p) => `${p.title} ${p.handshake.summary}`).join('; '),
    description: `${HANDSHAKES.map((p) => p.handshake.description).join('; ')}; other providers answer 405.`,
    querystring: HandshakeQuery,
    response: {
      200: {
        description: 'The token matched: the challenge.',
        content: { 'text/plain': { schema: HandshakeChallenge } },
      },
      ...problemResponses(
        'validation_error',
        'forbidden',
        'unknown_provider',
        'integration_not_found',
        'method_not_allowed',
        ...DATABASE,
      ),
    },
  };
  api.get(
    '/webhooks/:provider',
    { schema: { ...handshakeSchema, operationId: 'verifyWebhookSubscription', params: ProviderParams } },
    handshake,
  );
  api.get(
    '/webhooks/:provider/:integrationId',
    {
      schema: { ...handshakeSchema, operationId: 'verifyAccountWebhookSubscription', params: AccountParams },
    },
    handshake,
  );
}
