// The baseline for webhook ingestion: the least a server can do to store a Stripe event — a bare
// Fastify app, in the same kind of worker thread as the Carebook app (bench/lib/app-worker.ts),
// whose POST /webhooks/stripe takes the raw body, reads `id` and `type` with JSON.parse and sends
// the single INSERT Carebook's ingest_webhook_events makes (same columns, ON CONFLICT DO NOTHING),
// as the database's login user: no signature check, no role switch or settings, no NOTIFY, no
// integration lookup, no schemas, no metrics.
import { isMainThread, workerData } from 'node:worker_threads';
import { type AppWorker, serveFromThread, startServerThread } from './app-worker.js';

const WORKER_KIND = 'bare-webhook-ingest';
const STRIPE_DEFAULT_INTEGRATION = '00000000-0000-4000-8000-000000000001';
export const BARE_APPLICATION_NAME = 'bare-ingest-bench';

export interface BareIngestOptions {
  databaseUrl: string;
  poolMax: number;
}

/** Starts the bare endpoint in a worker thread; resolves once it listens on 127.0.0.1. */
export function startBareIngest(options: BareIngestOptions): Promise<AppWorker> {
  return startServerThread(import.meta.url, { kind: WORKER_KIND, ...options }, 'bare endpoint');
}

async function serveBare(options: BareIngestOptions): Promise<AppWorker> {
  const [{ default: Fastify }, { createPool }] = await Promise.all([
    import('fastify'),
    import('../../src/db/pool.js'),
  ]);
  // The same pool settings as the app's (createPool), and the same size.
  const pool = createPool(options.databaseUrl, {
    max: options.poolMax,
    applicationName: BARE_APPLICATION_NAME,
  });
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  app.post('/webhooks/stripe', async (request, reply) => {
    const body = request.body as Buffer;
    const text = body.toString('utf8');
    const event = JSON.parse(text) as { id: string; type: string };
    const signature = request.headers['stripe-signature'];
    const result = await pool.query(
      `WITH r AS (
         INSERT INTO webhook_requests (webhook_id, raw_body, signed_headers, request_url)
         VALUES ($1, $5, $6, $7) RETURNING id)
       INSERT INTO webhook_events (webhook_id, provider, event_id, event_type, payload, signature, request_id)
       SELECT $1, 'stripe', $2, $3, $4, $8, r.id FROM r
       ON CONFLICT (webhook_id, event_id) DO NOTHING`,
      [
        STRIPE_DEFAULT_INTEGRATION,
        event.id,
        event.type,
        text,
        body,
        JSON.stringify({ 'stripe-signature': signature }),
        `http://${request.headers.host ?? 'localhost'}${request.url}`,
        signature ?? null,
      ],
    );
    const inserted = result.rowCount ?? 0;
    return reply.code(200).send({ received: inserted, duplicates: 1 - inserted });
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      await app.close();
      await pool.end();
    },
  };
}

if (!isMainThread && (workerData as { kind?: string } | null)?.kind === WORKER_KIND) {
  await serveFromThread(() => serveBare(workerData as BareIngestOptions));
}
