// The Carebook HTTP app, really listening, in a worker thread of the benchmark process. The load
// generator (undici) then runs on another event loop than Fastify: in one thread the client's own
// JSON and socket work would queue behind the server's and be charged to the API's latency.
// The worker builds the app as `carebook serve` does (loadConfig → createPool → buildApp → listen)
// but without its background sweeper and webhook worker, whose load is not what we measure; the
// caller passes LOG_LEVEL=silent for the same reason.
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
  // Under tsx the worker needs the TypeScript loader registered before importing this file.
  const bootstrap = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
    .then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); })`;
  const worker = new Worker(bootstrap, { eval: true, workerData: { kind: WORKER_KIND, env: options.env } });
  let exited = false;
  worker.once('exit', () => {
    exited = true;
  });
  return new Promise((resolve, reject) => {
    worker.once('error', (error) => {
      // Before 'listening' this fails the start; later, requests to the dead server fail and are
      // counted as errors, and this says why.
      reject(new Error('the API worker failed to start', { cause: error }));
      process.stderr.write(`the API worker crashed: ${error.stack ?? error.message}\n`);
    });
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'failed') reject(new Error(`the API worker failed: ${message.message}`));
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

async function serveInWorker(env: Record<string, string>): Promise<void> {
  const port = parentPort;
  if (!port) return;
  try {
    const [{ loadConfig }, { createPool }, { buildApp }, { listen }, { createLogger }] = await Promise.all([
      import('../../src/config.js'),
      import('../../src/db/pool.js'),
      import('../../src/http/app.js'),
      import('../../src/http/server.js'),
      import('../../src/observability/logger.js'),
    ]);
    const config = loadConfig({ ...env, PORT: '0', HOST: '127.0.0.1' });
    const logger = createLogger(config.logLevel);
    if (!config.databaseUrl) throw new Error('DATABASE_URL is required');
    const pool = createPool(config.databaseUrl, {
      max: config.dbPoolMax,
      logger,
      applicationName: 'carebook-api-bench',
    });
    const app = await buildApp({ config, pool, logger });
    const server = await listen(app, config.host, config.port);
    port.on('message', async (message) => {
      if (message !== 'close') return;
      await server.close();
      await pool.end();
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

if (!isMainThread && (workerData as { kind?: string } | null)?.kind === WORKER_KIND) {
  await serveInWorker((workerData as { env: Record<string, string> }).env);
}
