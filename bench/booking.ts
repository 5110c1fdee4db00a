// npm run bench:booking — booking throughput and latency through the API, side by side with the
// same procedure called directly (a bare pg pool sending the API's exact statement) and with
// pgbench (the database's own limit), at 1, 8 and 32 concurrent clients on distinct free slots;
// then a 200-way race on one slot. Target (DESIGN.md): API ≥ 80 % of direct. Timing is never
// asserted: the exit status is 1 only for wrong answers (a non-201 booking, a double booking, a
// race with other than one winner, a count that does not add up).
// Uses DATABASE_URL's server when set, else an embedded PostgreSQL in .carebook/bench; a throwaway
// database either way. BENCH_SECONDS sets the length of each measurement (default 5).
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Agent, request } from 'undici';
import { openCluster, uniqueDatabaseName } from '../src/db/cluster.js';
import { migrateUp } from '../src/db/migrate/runner.js';
import { callInContext } from '../src/db/tenant.js';
import { signToken, tenantContext } from '../src/http/auth.js';
import { startAppWorker } from './lib/app-worker.js';
import { type LoopResult, runClosedLoop } from './lib/closed-loop.js';
import { wholeNumberFromEnv } from './lib/env.js';
import { BenchDatabase, patientId, slotId } from './lib/fixtures.js';
import { median } from './lib/latency.js';
import { pgbenchVersion, runPgbench } from './lib/pgbench.js';
import { fixed, formatTable, percent } from './lib/table.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const CONCURRENCY = [1, 8, 32] as const;
const POOL_MAX = 32; // API and direct pools alike: at least the highest concurrency
const WARMUP_SECONDS = 1;
const RACE_SIZE = 200;
const RACES = 3;
const HOLD_MINUTES = 15;
const STAFF_USER = 'bench-staff';
const progress = (line: string) => process.stderr.write(`· ${line}\n`);

const API_COLUMNS = ['API req/s', 'p50 ms', 'p99 ms'];
const DIRECT_COLUMNS = ['direct pg req/s', 'p50 ms', 'p99 ms'];
const COLUMNS = ['clients', ...API_COLUMNS, ...DIRECT_COLUMNS, 'pgbench tps', 'API/direct', 'API/pgbench'];

type Task = (client: number) => Promise<boolean | null>;

interface Point {
  clients: number;
  api: LoopResult;
  direct: LoopResult;
  pgbenchTps: number | null;
}

/**
 * The statement src/booking/service.ts sends for POST /api/appointments, built the same way (its
 * context for a staff member, book_appointment called LATERAL), and a pgbench version of it: the
 * context as literals, the slot from a sequence so every call gets a distinct free slot, the
 * patient from pgbench's client number, a fresh idempotency key.
 */
function bookingStatements(clinicId: string) {
  const context = tenantContext({ sub: STAFF_USER, role: 'staff', clinicId, patientId: null });
  // The service's own builder, with the service's own call: the arguments are $1…$4, the context after them.
  const placeholders = ['slot', 'patient', 'key', 'metadata'];
  const statement = callInContext(context, 'book_appointment($1, $2, ctx.user_id, $3, $4)', placeholders, {
    'carebook.hold_minutes': String(HOLD_MINUTES),
  });
  const contextValues = statement.values.slice(placeholders.length) as string[];
  const pgbenchArguments = [
    "bench.slot_id(nextval('bench.slot_seq'))",
    'bench.patient_id(:patient_base::bigint + :client_id::bigint)',
    "'pgbench-' || gen_random_uuid()",
    "'{}'::jsonb",
  ];
  const pgbenchScript = `${statement.text.replace(/\$(\d+)/g, (_, digits: string) => {
    const index = Number(digits) - 1;
    return index < placeholders.length
      ? (pgbenchArguments[index] as string)
      : pg.escapeLiteral(contextValues[index - placeholders.length] ?? '');
  })};\n`;
  return { sql: statement.text, contextValues, pgbenchScript };
}

/** POSTs one booking as the staff member; resolves to the status after reading the body. */
async function postBooking(
  api: { url: string; token: string; agent: Agent },
  slot: number,
  patient: number,
  key: string,
): Promise<{ status: number; body: string }> {
  const response = await request(`${api.url}/api/appointments`, {
    method: 'POST',
    dispatcher: api.agent,
    headers: {
      authorization: `Bearer ${api.token}`,
      'content-type': 'application/json',
      'idempotency-key': key,
    },
    body: JSON.stringify({ slot_id: slotId(slot), patient_id: patientId(patient) }),
  });
  return { status: response.statusCode, body: await response.body.text() };
}

/** RACE_SIZE requests for one slot at once, RACES times; returns the wall times and any problems. */
async function races(
  db: BenchDatabase,
  appUrl: string,
  token: string,
): Promise<{ ms: number[]; won: number; problems: string[] }> {
  const patients = db.allocatePatients(RACE_SIZE);
  const agent = new Agent({ connections: RACE_SIZE, pipelining: 1 });
  const api = { url: appUrl, token, agent };
  const result = { ms: [] as number[], won: 0, problems: [] as string[] };
  try {
    // Open every connection first: the race should time booking, not TCP handshakes.
    await Promise.all(
      Array.from({ length: RACE_SIZE }, () =>
        request(`${appUrl}/healthz`, { dispatcher: agent }).then((r) => r.body.dump()),
      ),
    );
    for (let race = 0; race < RACES; race++) {
      await db.slots.ensure(1);
      const slot = db.slots.take() as number;
      const started = process.hrtime.bigint();
      const statuses = await Promise.all(
        Array.from({ length: RACE_SIZE }, async (_, i) => {
          return (await postBooking(api, slot, patients + i, `race-${race}-${i}`)).status;
        }),
      );
      result.ms.push(Number(process.hrtime.bigint() - started) / 1e6);
      const won = statuses.filter((status) => status === 201).length;
      const lost = statuses.filter((status) => status === 409).length;
      result.won += won;
      if (won !== 1 || lost !== RACE_SIZE - 1) {
        const others = statuses.filter((status) => status !== 201 && status !== 409);
        result.problems.push(
          `race ${race + 1}: ${won} × 201, ${lost} × 409, other statuses [${others.join(', ')}] (expected one 201)`,
        );
      }
    }
  } finally {
    await agent.close();
  }
  return result;
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

    const app = await startAppWorker({
      env: {
        DATABASE_URL: url,
        CAREBOOK_JWT_SECRET: secret,
        CAREBOOK_DB_POOL_MAX: String(POOL_MAX),
        CAREBOOK_HOLD_MINUTES: String(HOLD_MINUTES),
        LOG_LEVEL: 'silent',
      },
    });
    cleanup.unshift(() => app.close());
    const direct = new pg.Pool({ connectionString: url, max: POOL_MAX });
    direct.on('error', () => {}); // an idle client dropped by the server surfaces on its next query
    cleanup.unshift(() => direct.end());
    const pgbench = await pgbenchVersion();
    const booked = { api: 0, direct: 0, pgbench: 0, race: 0 };

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
      (agent: Agent, patients: number): Task =>
      async (client) => {
        const slot = db.slots.take();
        if (slot === null) return null;
        const response = await postBooking(
          { url: app.url, token, agent },
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

      progress(`${clients} clients: API`);
      const agent = new Agent({ connections: clients, pipelining: 1 });
      const task = apiTask(agent, db.allocatePatients(clients));
      const a = await measure('API', clients, task).finally(() => agent.close());
      booked.api += a.made;

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
      points.push({ clients, api: a.result, direct: d.result, pgbenchTps });
    }

    progress(`${RACES} races of ${RACE_SIZE} requests on one slot`);
    const race = await races(db, app.url, token);
    booked.race = race.won;
    problems.push(...race.problems);
    await app.close();
    const expected = booked.api + booked.direct + booked.pgbench + booked.race;
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
      `bookings: ${booked.api} API + ${booked.direct} direct + ${booked.pgbench} pgbench + ${booked.race} race = ${expected} (warm-ups included); ` +
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
