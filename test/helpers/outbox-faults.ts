// For the outbox's fault-injection tests: a test bed (a database, the four fake providers, the API
// listening on a local port so the fakes' status webhooks reach it), worker child processes that a
// test SIGKILLs or SIGSTOPs (outbox-worker-child.ts; every one is killed at the end, also when a
// test fails), and `settle`, which drives the outbox to rest with an in-process worker.
//
// Time is moved, never waited for: `settle` makes due the jobs that wait for a backoff, a
// Retry-After or a dead worker's lease (their run_at is the only clock the queue reads). Leases of
// live workers are left to run out for real.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';
import { buildTestApp, type TestApp } from './app.js';
import { ROOT } from './cli.js';
import { createTestDatabase, sql, type TestDatabase } from './db.js';
import { type OutboundFakes, outboxConfig, outboxWorker, startOutboundFakes } from './outbox.js';
import { until } from './until.js';
import { WHATSAPP_SECRET } from './webhooks.js';

export { until };

/** The child workers' lease: their client timeout is a third of it (outboxQueueKinds). */
export const CHILD_LEASE_SECONDS = 3;

export interface WorkerChild {
  id: string;
  process: ChildProcess;
  /** What it logged so far (pino JSON lines at warn and above). */
  output(): string;
  /** Resolves once it has exited, by any signal or code. */
  exited: Promise<void>;
  /** SIGKILL, as an out-of-memory kill or a crashed host would; resolves once it is gone. */
  kill(): Promise<void>;
}

export interface FaultBed {
  db: TestDatabase;
  t: TestApp;
  fakes: OutboundFakes;
  env: Record<string, string>;
  /** The API's origin (status webhooks from the fakes go here). */
  origin: string;
  spawnWorker(): Promise<WorkerChild>;
  /** SIGKILLs every child still running (a test's end, whether it passed or not). */
  killWorkers(): Promise<void>;
  /** Faults injected and not met yet, at every fake. */
  faultsLeft(): number;
  /** Drops the faults not met yet, and frees the calls they hold. */
  clearFaults(): void;
  /** Delivers the outbox until no row is waiting: no live child may remain (kill them first). */
  settle(): Promise<void>;
  close(): Promise<void>;
}

const LIVE = `o.status IN ('pending', 'in_flight', 'needs_reconcile')`;
const LIVE_EVENTS = `status IN ('pending', 'failed')`;

/**
 * The child script bundled once per test process (its packages left to node_modules): a worker
 * starts in about a second, where tsx would compile its import graph anew for every child.
 */
async function bundleChild(): Promise<string> {
  const outfile = path.join(
    ROOT,
    'node_modules',
    '.cache',
    'carebook-tests',
    `outbox-worker-${process.pid}.mjs`,
  );
  await build({
    entryPoints: [path.join(ROOT, 'test/helpers/outbox-worker-child.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    outfile,
    logLevel: 'error',
  });
  return outfile;
}

export async function startFaultBed(): Promise<FaultBed> {
  const db = await createTestDatabase();
  const started = await startOutboundFakes();
  const { fakes } = started;
  // One reminder per start (two would carry the same text, which only hours apart tell apart).
  const env = { ...started.env, CAREBOOK_WORKER_LEASE_SECONDS: '5', CAREBOOK_REMINDER_OFFSETS: '1h' };
  const t = await buildTestApp(db, env);
  const origin = await t.app.listen({ port: 0, host: '127.0.0.1' });
  const config = outboxConfig(env);
  const children: WorkerChild[] = [];
  const script = await bundleChild();

  async function spawnWorker(): Promise<WorkerChild> {
    const id = `fault-child-${randomBytes(3).toString('hex')}`;
    const spawned = spawn(process.execPath, [script], {
      cwd: ROOT,
      env: {
        ...process.env,
        DATABASE_URL: db.serviceUrl,
        OUTBOX_ENV: JSON.stringify(env),
        OUTBOX_LEASE: String(CHILD_LEASE_SECONDS),
        OUTBOX_WORKER_ID: id,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    spawned.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exited = new Promise<void>((resolve) => spawned.on('exit', () => resolve()));
    const child: WorkerChild = {
      id,
      process: spawned,
      output: () => output,
      exited,
      kill: async () => {
        if (spawned.exitCode === null && spawned.signalCode === null) spawned.kill('SIGKILL');
        await exited;
      },
    };
    children.push(child);
    await Promise.race([
      until(() => output.includes('started\n'), 'worker child start', 30),
      exited.then(() => {
        throw new Error(`worker child exited before it started: ${output}`);
      }),
    ]);
    return child;
  }

  /** Meta reports every message it accepted: its status webhook names the outbox row. */
  async function reportWhatsAppStatuses() {
    for (const message of fakes.whatsapp.messages()) {
      if (message.status !== 'accepted') continue;
      const status = await fakes.whatsapp.sendStatus(message.id, 'sent', {
        url: `${origin}/webhooks/whatsapp`,
        appSecret: WHATSAPP_SECRET,
      });
      if (status !== 200) throw new Error(`the WhatsApp status webhook answered ${status}`);
    }
  }

  const servers = [fakes.stripe, fakes.daily, fakes.twilio, fakes.whatsapp];
  const killWorkers = async () => {
    await Promise.all(children.map((child) => child.kill()));
  };

  async function settle() {
    const alive = children.filter((c) => c.process.exitCode === null && c.process.signalCode === null);
    if (alive.length > 0) throw new Error('settle with worker children alive');
    for (const server of servers) server.releaseHangs();
    const worker = outboxWorker(db.pool, config, t.metrics);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      // The clock moves on: backoffs, Retry-Afters and the dead workers' leases are over.
      await db.pool.query(
        `UPDATE queue_jobs SET run_at = now(), locked_until = CASE WHEN locked_by IS NULL THEN NULL ELSE now() END
          WHERE dead_at IS NULL AND run_at > now()`,
      );
      // Webhook events too: a payment's event retried after a crash stages the effects it causes
      // (a refund when the hold expired meanwhile); the verdict must not be read before it runs.
      await db.pool.query(
        `UPDATE webhook_events SET next_attempt_at = now() WHERE ${LIVE_EVENTS} AND next_attempt_at > now()`,
      );
      await reportWhatsAppStatuses();
      const claimed = await worker.drain();
      const live = await sql<{ n: number }>(
        db.pool,
        `SELECT ((SELECT count(*) FROM outbox o WHERE ${LIVE}) + (SELECT count(*) FROM webhook_events WHERE ${LIVE_EVENTS}))::int AS n`,
      );
      if (claimed === 0 && live[0]!.n === 0) return;
      // Nothing claimable yet (a kind's rate window is full): let the window move on.
      if (claimed === 0) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const stuck = await sql(
      db.pool,
      `SELECT o.kind, o.purpose, o.status, o.attempts, o.last_error FROM outbox o WHERE ${LIVE}
       UNION ALL SELECT 'webhook', event_type, status, attempts, error FROM webhook_events WHERE ${LIVE_EVENTS}`,
    );
    throw new Error(`the outbox did not come to rest: ${JSON.stringify(stuck)}`);
  }

  return {
    db,
    t,
    fakes,
    env,
    origin,
    spawnWorker,
    killWorkers,
    faultsLeft: () => servers.reduce((sum, server) => sum + server.faultsLeft(), 0),
    clearFaults: () => {
      for (const server of servers) {
        server.clearFaults();
        server.releaseHangs();
      }
    },
    settle,
    close: async () => {
      // Every child dies here, whatever the test did before it failed.
      await killWorkers();
      await t?.close();
      await fakes?.stop();
      await db?.drop();
      await rm(script, { force: true });
    },
  };
}
