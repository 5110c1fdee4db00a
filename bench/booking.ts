// npm run bench:booking — booking throughput and latency through the API, side by side with the
// same procedure called directly (a bare pg pool sending the API's exact statement) and with
// pgbench (the database's own limit), at 1, 8 and 32 concurrent clients on distinct free slots;
// then a 200-way race on one slot; the direct booking again with the outbox staging triggers off
// (what staging costs; target ≤ 10 %); and the API again through a real PgBouncer in transaction mode
// (src/dev/pgbouncer.ts; a line says so when it is not installed), measured right after the direct
// API at each concurrency. Target (DESIGN.md): API ≥ 80 % of direct. Timing is never
// asserted: the exit status is 1 only for wrong answers (a non-201 booking, a double booking, a
// race with other than one winner, a count that does not add up).
// Uses DATABASE_URL's server when set, else an embedded PostgreSQL in .carebook/bench; a throwaway
// database either way. BENCH_SECONDS sets the length of each measurement (default 5).
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Agent } from 'undici';
import { openCluster, uniqueDatabaseName } from '../src/db/cluster.js';
import { migrateUp } from '../src/db/migrate/runner.js';
import {
  type PgBouncer,
  pgbouncerInstalled,
  pgbouncerVersion,
  startPgBouncer,
} from '../src/dev/pgbouncer.js';
import { signToken } from '../src/http/auth.js';
import { type AppWorker, startAppWorker } from './lib/app-worker.js';
import {
  bookingStatements,
  HOLD_MINUTES,
  postBooking,
  RACE_SIZE,
  RACES,
  races,
  STAFF_USER,
} from './lib/booking-requests.js';
import { type LoopResult, runClosedLoop } from './lib/closed-loop.js';
import { wholeNumberFromEnv } from './lib/env.js';
import { BenchDatabase, patientId, slotId } from './lib/fixtures.js';
import { median } from './lib/latency.js';
import { printStagingCost, withoutOutboxStaging } from './lib/outbox-cost.js';
import { pgbenchVersion, runPgbench } from './lib/pgbench.js';
import { fixed, formatTable, percent } from './lib/table.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const CONCURRENCY = [1, 8, 32] as const;
const POOL_MAX = 32; // API and direct pools alike: at least the highest concurrency
const WARMUP_SECONDS = 1;
const progress = (line: string) => process.stderr.write(`· ${line}\n`);

const API_COLUMNS = ['API req/s', 'p50 ms', 'p99 ms'];
const DIRECT_COLUMNS = ['direct pg req/s', 'p50 ms', 'p99 ms'];
const COLUMNS = ['clients', ...API_COLUMNS, ...DIRECT_COLUMNS, 'pgbench tps', 'API/direct', 'API/pgbench'];
const POOLED_COLUMNS = [
  'clients',
  ...API_COLUMNS,
  'via PgBouncer req/s',
  'p50 ms',
  'p99 ms',
  'PgBouncer/API',
  'PgBouncer/direct',
];

type Task = (client: number) => Promise<boolean | null>;

interface Point {
  clients: number;
  api: LoopResult;
  direct: LoopResult;
  /** The same direct booking with the outbox staging triggers disabled. */
  unstaged: LoopResult;
  pgbenchTps: number | null;
  /** The API with DATABASE_URL through PgBouncer in transaction mode (when it is installed). */
  pooled: LoopResult | null;
}

async function main(): Promise<number> {
  const seconds = wholeNumberFromEnv('BENCH_SECONDS', 5, 1, 600);
  const problems: string[] = [];
  const cluster = await openCluster({
    databaseUrl: process.env.DATABASE_URL,
    dataDir: path.join(ROOT, '.carebook', 'bench'),
  });
  const name = uniqueDatabaseName('carebook_bench');
  const cleanup: (() => Promise<unknown>)[] = [];
  try {
    const url = await cluster.createDatabase(name);
    progress(`migrating and seeding ${name}`);
    await migrateUp({ databaseUrl: url });
    const db = await BenchDatabase.open(url);
    cleanup.push(() => db.close());
    const server = await db.describeServer();
    const statements = bookingStatements(db.clinicId);
    const secret = randomBytes(32).toString('base64url');
    const token = await signToken(secret, { sub: STAFF_USER, role: 'staff', clinic_id: db.clinicId });

    const appEnv = {
      CAREBOOK_JWT_SECRET: secret,
      CAREBOOK_DB_POOL_MAX: String(POOL_MAX),
      CAREBOOK_HOLD_MINUTES: String(HOLD_MINUTES),
      // One staff member books thousands of slots a second here: the per-subject booking limit
      // (30 a minute by default) is not what this measures.
      CAREBOOK_RATE_LIMIT_BOOKINGS: '0',
      LOG_LEVEL: 'silent',
    };
    const app = await startAppWorker({ env: { ...appEnv, DATABASE_URL: url } });
    cleanup.unshift(() => app.close());
    // The same app with DATABASE_URL through PgBouncer; it detects the transaction pooling itself.
    let bouncer: PgBouncer | null = null;
    let pooledApp: AppWorker | null = null;
    if (pgbouncerInstalled()) {
      const login = new URL(url);
      bouncer = await startPgBouncer({
        serverUrl: url,
        users: { [decodeURIComponent(login.username)]: decodeURIComponent(login.password) },
        poolSize: POOL_MAX,
      });
      cleanup.push(() => (bouncer as PgBouncer).stop());
      pooledApp = await startAppWorker({ env: { ...appEnv, DATABASE_URL: bouncer.urlFor(url) } });
      cleanup.unshift(() => (pooledApp as AppWorker).close());
    }
    const direct = new pg.Pool({ connectionString: url, max: POOL_MAX });
    direct.on('error', () => {}); // an idle client dropped by the server surfaces on its next query
    cleanup.unshift(() => direct.end());
    const pgbench = await pgbenchVersion();
    const booked = { api: 0, direct: 0, pgbench: 0, race: 0, pooled: 0 };

    const directTask =
      (patients: number): Task =>
      async (client) => {
        const slot = db.slots.take();
        if (slot === null) return null;
        const result = await direct.query<{ response_status: number }>(statements.sql, [
          slotId(slot),
          patientId(patients + client),
          `direct-${slot}`,
          {},
          ...statements.contextValues,
        ]);
        return result.rows[0]?.response_status === 201;
      };
    const apiTask =
      (appUrl: string, agent: Agent, patients: number): Task =>
      async (client) => {
        const slot = db.slots.take();
        if (slot === null) return null;
        const response = await postBooking(
          { url: appUrl, token, agent },
          slot,
          patients + client,
          `api-${slot}`,
        );
        if (response.status !== 201)
          throw new Error(`HTTP ${response.status}: ${response.body.slice(0, 200)}`);
        return true;
      };
    // Warm-up, then the measurement, on the same connections and patients; both book slots.
    const measure = async (label: string, clients: number, task: Task) => {
      await db.slots.ensure(db.slotsNeeded(WARMUP_SECONDS + seconds));
      const warm = await runClosedLoop({ concurrency: clients, durationMs: WARMUP_SECONDS * 1000, task });
      const result = await runClosedLoop({ concurrency: clients, durationMs: seconds * 1000, task });
      db.observeRate(result.rate);
      for (const run of [warm, result]) {
        const where = `${label} at ${clients} clients`;
        if (run.errors > 0) problems.push(`${where}: ${run.errors} failed (${run.errorSamples.join('; ')})`);
        if (run.exhausted) problems.push(`${where} ran out of seeded slots`);
      }
      return { made: warm.ok + result.ok, result };
    };

    // At each concurrency the three run back to back, so they meet tables of about the same size
    // (every booking adds rows); each first warms its own connections for WARMUP_SECONDS.
    const points: Point[] = [];
    for (const clients of CONCURRENCY) {
      progress(`${clients} clients: direct pg`);
      const d = await measure('direct pg', clients, directTask(db.allocatePatients(clients)));
      booked.direct += d.made;
      progress(`${clients} clients: direct pg, outbox staging off`);
      const u = await withoutOutboxStaging(url, () =>
        measure('direct pg, no outbox staging', clients, directTask(db.allocatePatients(clients))),
      );
      booked.direct += u.made;

      progress(`${clients} clients: API`);
      const agent = new Agent({ connections: clients, pipelining: 1 });
      const task = apiTask(app.url, agent, db.allocatePatients(clients));
      const a = await measure('API', clients, task).finally(() => agent.close());
      booked.api += a.made;

      let pooled: LoopResult | null = null;
      if (pooledApp) {
        progress(`${clients} clients: API through PgBouncer`);
        const pooledAgent = new Agent({ connections: clients, pipelining: 1 });
        const pooledTask = apiTask(pooledApp.url, pooledAgent, db.allocatePatients(clients));
        const p = await measure('API through PgBouncer', clients, pooledTask).finally(() =>
          pooledAgent.close(),
        );
        booked.pooled += p.made;
        pooled = p.result;
      }

      let pgbenchTps: number | null = null;
      if (pgbench) {
        progress(`${clients} clients: pgbench`);
        await db.slots.ensure(db.slotsNeeded(WARMUP_SECONDS + seconds, 3));
        await db.slots.handToSequence();
        const run = await runPgbench({
          databaseUrl: url,
          script: statements.pgbenchScript,
          clients,
          seconds,
          warmupSeconds: WARMUP_SECONDS,
          variables: { patient_base: db.allocatePatients(clients) },
        });
        await db.slots.takeBackFromSequence();
        booked.pgbench += Number.isFinite(run.transactions) ? run.transactions : 0;
        if (run.aborted || run.failed > 0 || !Number.isFinite(run.tps)) {
          problems.push(`pgbench at ${clients} clients failed:\n${run.errorSummary}`);
        } else {
          pgbenchTps = run.tps;
          db.observeRate(run.tps);
        }
      }
      points.push({ clients, api: a.result, direct: d.result, unstaged: u.result, pgbenchTps, pooled });
    }

    progress(`${RACES} races of ${RACE_SIZE} requests on one slot`);
    const race = await races(db, app.url, token);
    booked.race = race.won;
    problems.push(...race.problems);
    await app.close();
    await pooledApp?.close();
    const expected = booked.api + booked.direct + booked.pgbench + booked.race + booked.pooled;
    problems.push(...(await db.verify(expected)));

    const where = cluster.embedded ? 'embedded' : 'DATABASE_URL';
    console.log(
      `booking benchmark — PostgreSQL ${server.version} (${where}; synchronous_commit=${server.synchronousCommit}, fsync=${server.fsync}), ` +
        `${availableParallelism()} CPUs, ${seconds} s per point after ${WARMUP_SECONDS} s warm-up`,
    );
    console.log(
      'API: Fastify in a worker thread, undici clients on the main thread; pools of 32 connections',
    );
    console.log(
      formatTable(
        COLUMNS,
        points.map((p) => [
          String(p.clients),
          fixed(p.api.rate),
          fixed(p.api.latency.percentile(50), 2),
          fixed(p.api.latency.percentile(99), 2),
          fixed(p.direct.rate),
          fixed(p.direct.latency.percentile(50), 2),
          fixed(p.direct.latency.percentile(99), 2),
          fixed(p.pgbenchTps),
          percent(p.api.rate, p.direct.rate),
          percent(p.api.rate, p.pgbenchTps),
        ]),
      ),
    );
    if (!pgbench) console.log('pgbench: not on PATH');
    printStagingCost(points);
    if (pooledApp) {
      console.log(
        `\nThe API with DATABASE_URL through PgBouncer (${await pgbouncerVersion()}, pool_mode = transaction, ` +
          `default_pool_size = ${POOL_MAX}), measured right after the direct API at each concurrency:`,
      );
      console.log(
        formatTable(
          POOLED_COLUMNS,
          points.map((p) => [
            String(p.clients),
            fixed(p.api.rate),
            fixed(p.api.latency.percentile(50), 2),
            fixed(p.api.latency.percentile(99), 2),
            fixed(p.pooled?.rate),
            fixed(p.pooled?.latency.percentile(50), 2),
            fixed(p.pooled?.latency.percentile(99), 2),
            percent(p.pooled?.rate ?? null, p.api.rate),
            percent(p.pooled?.rate ?? null, p.direct.rate),
          ]),
        ),
      );
    } else {
      console.log(
        'PgBouncer: /usr/sbin/pgbouncer is not installed (apt-get install -y pgbouncer); no rows through it',
      );
    }
    console.log(
      `${RACE_SIZE}-way race on one slot through the API, ${RACES} runs: settled in min ${fixed(Math.min(...race.ms), 1)} ms, ` +
        `median ${fixed(median(race.ms), 1)} ms; one 201 and ${RACE_SIZE - 1} × 409 each: ${race.problems.length ? 'NO' : 'yes'}`,
    );
    for (const p of points) {
      const verdict = p.api.rate >= 0.8 * p.direct.rate ? 'met' : 'not met';
      console.log(
        `target API ≥ 80 % of direct at ${p.clients} clients: ${verdict} (${percent(p.api.rate, p.direct.rate)})`,
      );
    }
    console.log(
      `bookings: ${booked.api} API + ${booked.direct} direct + ${booked.pgbench} pgbench + ${booked.race} race + ${booked.pooled} through PgBouncer = ${expected} (warm-ups included); ` +
        'appointments in the database and double-booked slots checked',
    );
  } catch (error) {
    const reason = error instanceof Error ? (error.stack ?? error.message) : String(error);
    problems.push(`the benchmark stopped: ${reason}`);
  } finally {
    for (const step of cleanup) await step().catch(() => {});
    await cluster.dropDatabase(name).catch(() => {});
    await cluster.close();
  }
  for (const problem of problems) console.error(`ERROR ${problem}`);
  return problems.length > 0 ? 1 : 0;
}

process.exit(await main());
