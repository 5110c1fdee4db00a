// The Carebook HTTP app, really listening, in a worker thread of the benchmark process. The load
// generator (undici) then runs on another event loop than Fastify: in one thread the client's own
// JSON and socket work would queue behind the server's and be charged to the API's latency.
// The worker builds the app as `carebook serve` does (loadConfig → pooling → createPool → buildApp → listen)
// but without its background sweeper and webhook worker, whose load is not what we measure; the
// caller passes LOG_LEVEL=silent for the same reason.
// startServerThread / serveFromThread are the same machinery for any other server a benchmark
// compares the app with (bench/lib/bare-ingest.ts), so both sides run in the same kind of thread.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const WORKER_KIND = 'carebook-app-server';

export interface AppWorkerOptions {
  /** Environment as `carebook serve` would read it (DATABASE_URL, CAREBOOK_JWT_SECRET, …). */
  env: Record<string, string>;
}

export interface AppWorker {
  url: string;
  close(): Promise<void>;
}

type FromWorker =
  | { type: 'listening'; url: string }
  | { type: 'closed' }
  | { type: 'failed'; message: string };

/** Starts the app in a worker thread; resolves once it listens on 127.0.0.1 (a free port). */
export function startAppWorker(options: AppWorkerOptions): Promise<AppWorker> {
  return startServerThread(import.meta.url, { kind: WORKER_KIND, env: options.env }, 'API');
}

/**
 * Starts the module at `moduleUrl` in a worker thread with `data` as its workerData; the module
 * recognises its `kind` and calls serveFromThread. Resolves once the server listens.
 */
export function startServerThread(
  moduleUrl: string,
  data: { kind: string } & Record<string, unknown>,
  label: string,
): Promise<AppWorker> {
  // Under tsx the worker needs the TypeScript loader registered before importing the module.
  const bootstrap = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
    .then((tsx) => { tsx.register(); return import(${JSON.stringify(moduleUrl)}); })`;
  const worker = new Worker(bootstrap, { eval: true, workerData: data });
  let exited = false;
  worker.once('exit', () => {
    exited = true;
  });
  return new Promise((resolve, reject) => {
    worker.once('error', (error) => {
      // Before 'listening' this fails the start; later, requests to the dead server fail and are
      // counted as errors, and this says why.
      reject(new Error(`the ${label} worker failed to start`, { cause: error }));
      process.stderr.write(`the ${label} worker crashed: ${error.stack ?? error.message}\n`);
    });
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'failed') reject(new Error(`the ${label} worker failed: ${message.message}`));
      if (message.type !== 'listening') return;
      let closing: Promise<void> | null = null;
      resolve({
        url: message.url,
        close: () => {
          // The worker answers 'closed' once server and pool are shut; terminate() then ends it
          // even if a library left a timer behind.
          closing ??= new Promise<void>((done) => {
            if (exited) return done();
            worker.once('exit', () => done());
            worker.on('message', (reply: FromWorker) => {
              if (reply.type === 'closed') void worker.terminate();
            });
            worker.postMessage('close');
          });
          return closing;
        },
      });
    });
  });
}

/**
 * The thread's side: starts the server, reports its URL to the parent, and shuts it down (server,
 * then pool — `start`'s close) when the parent asks.
 */
export async function serveFromThread(start: () => Promise<AppWorker>): Promise<void> {
  const port = parentPort;
  if (!port) return;
  try {
    const server = await start();
    port.on('message', async (message) => {
      if (message !== 'close') return;
      await server.close();
      port.postMessage({ type: 'closed' } satisfies FromWorker);
    });
    port.postMessage({ type: 'listening', url: server.url } satisfies FromWorker);
  } catch (error) {
    port.postMessage({
      type: 'failed',
      message: error instanceof Error ? error.message : String(error),
    } satisfies FromWorker);
    port.close();
  }
}

async function serveApp(env: Record<string, string>): Promise<AppWorker> {
  const [{ loadConfig }, { createPool }, { resolvePooling }, { buildApp }, { listen }, { createLogger }] =
    await Promise.all([
      import('../../src/config.js'),
      import('../../src/db/pool.js'),
      import('../../src/db/pooling.js'),
      import('../../src/http/app.js'),
      import('../../src/http/server.js'),
      import('../../src/observability/logger.js'),
    ]);
  const config = loadConfig({ ...env, PORT: '0', HOST: '127.0.0.1' });
  const logger = createLogger(config.logLevel);
  if (!config.databaseUrl) throw new Error('DATABASE_URL is required');
  // As `carebook serve` decides (src/db/service.ts): no named statements behind a transaction pooler.
  const pooling = await resolvePooling(config.database.pooling, config.databaseUrl);
  const pool = createPool(config.databaseUrl, {
    max: config.dbPoolMax,
    logger,
    applicationName: 'carebook-api-bench',
    namedStatements: pooling === 'session',
  });
  const app = await buildApp({ config, pool, logger });
  const server = await listen(app, config.host, config.port);
  return {
    url: server.url,
    close: async () => {
      await server.close();
      await pool.end();
    },
  };
}

if (!isMainThread && (workerData as { kind?: string } | null)?.kind === WORKER_KIND) {
  await serveFromThread(() => serveApp((workerData as { env: Record<string, string> }).env));
}
