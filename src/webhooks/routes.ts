// POST /webhooks/{provider}[/{integration_id}] — ingestion — and the WhatsApp subscription
// handshake. Bodies are kept as raw bytes (signatures cover bytes, not parsed JSON). A provider is
// told 200 for anything stored or already stored, 401 for a bad signature (nothing stored), 503
// when its secret is not configured (so nothing unsigned is ever accepted).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { WebhookConfig } from '../config.js';
import type { Pool } from '../db/pool.js';
import { ProblemError, problemResponses } from '../http/errors.js';
import { MAX_BODY_BYTES } from '../http/limits.js';
import type { TypedApp } from '../http/types.js';
import type { Metrics } from '../observability/metrics.js';
import { ingestWebhook, WorkerNotifier } from './ingest.js';
import { IntegrationDirectory, verifyTokensFor } from './integrations.js';
import { constantTimeEqual } from './providers/crypto.js';
import { PROVIDERS, type ProviderName, type RawWebhookRequest } from './providers/index.js';

export interface WebhookRouteDeps {
  pool: Pool;
  metrics: Metrics;
  webhooks: WebhookConfig;
}

const Params = Type.Object({
  provider: Type.String({ maxLength: 32 }),
  integrationId: Type.Optional(
    Type.String({
      pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$',
      description: 'Integration id, or its name.',
    }),
  ),
});
const Accepted = Type.Object({ received: Type.Integer(), duplicates: Type.Integer() });
const TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>';

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
    const provider = PROVIDERS[request.params.provider as ProviderName];
    if (!provider)
      throw new ProblemError(
        404,
        'unknown_provider',
        'No such webhook provider',
        'Known: stripe, twilio, whatsapp, daily.',
      );
    const integration = await integrations.find(provider.name, request.params.integrationId);
    if (!integration)
      throw new ProblemError(404, 'integration_not_found', 'No such active integration for this provider');
    return { provider, integration };
  };

  const publicUrl = (request: FastifyRequest) =>
    `${deps.webhooks.publicUrl ?? `${request.protocol}://${request.headers.host ?? 'localhost'}`}${request.url}`;

  const receive = async (
    request: FastifyRequest<{ Params: { provider: string; integrationId?: string } }>,
    reply: FastifyReply,
  ) => {
    const { provider, integration } = await resolve(request);
    const raw: RawWebhookRequest = {
      url: publicUrl(request),
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
        throw new ProblemError(
          503,
          'provider_not_configured',
          `${provider.name} webhooks are not configured here`,
        );
      }
      case 'rejected':
        throw new ProblemError(
          401,
          'invalid_signature',
          'The webhook signature did not verify',
          result.reason,
        );
      case 'test_ping':
        return reply.code(200).send({ received: 0, duplicates: 0 });
      default:
        if (provider.name === 'twilio') return reply.code(200).type('text/xml').send(TWIML_EMPTY);
        return reply.code(200).send({ received: result.inserted, duplicates: result.duplicates });
    }
  };

  const schema = {
    tags: ['webhooks'],
    security: [],
    params: Params,
    response: { 200: Accepted, ...problemResponses(401, 404, 413, 503) },
  };
  api.post(
    '/webhooks/:provider',
    { schema: { ...schema, summary: 'Receive a provider webhook (default account)' } },
    receive,
  );
  api.post(
    '/webhooks/:provider/:integrationId',
    { schema: { ...schema, summary: 'Receive a webhook for one provider account' } },
    receive,
  );

  const handshake = async (
    request: FastifyRequest<{
      Params: { provider: string; integrationId?: string };
      Querystring: Record<string, string>;
    }>,
    reply: FastifyReply,
  ) => {
    const { provider, integration } = await resolve(request);
    if (provider.name !== 'whatsapp')
      throw new ProblemError(405, 'method_not_allowed', 'Only WhatsApp uses a GET handshake');
    const query = request.query;
    const token = query['hub.verify_token'] ?? '';
    const expected = verifyTokensFor(deps.webhooks, integration);
    if (
      query['hub.mode'] !== 'subscribe' ||
      !expected.some((candidate) => constantTimeEqual(candidate, token))
    ) {
      throw new ProblemError(403, 'forbidden', 'The verify token does not match');
    }
    return reply
      .code(200)
      .type('text/plain')
      .send(query['hub.challenge'] ?? '');
  };
  const handshakeSchema = {
    tags: ['webhooks'],
    security: [],
    summary: 'WhatsApp subscription handshake (answers hub.challenge)',
    params: Params,
    querystring: Type.Record(Type.String(), Type.String()),
  };
  api.get('/webhooks/:provider', { schema: handshakeSchema }, handshake);
  api.get('/webhooks/:provider/:integrationId', { schema: handshakeSchema }, handshake);
}
