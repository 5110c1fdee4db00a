// npm run bench:slots — slot generation and availability search, printed, never asserted.
//  1. 50 practitioners × 90 days (five zones, 08:00–20:00 every day, 30-minute slots): the
//     TypeScript regeneration (`carebook slots generate`'s code, its defaults) first run and re-run, beside the
//     pure-SQL expansion of research/scheduling.md (bench/lib/sql-expansion.sql) generating alone,
//     inserting into a copy of appointment_slots, and re-running with ON CONFLICT DO NOTHING.
//  2. GET /api/availability through the real API (a worker thread) at 8 clients: one practitioner
//     × 14 days, and a clinic × 62 days (its first page of 500).
// Targets (DESIGN.md): first generation ≤ 2 s, re-run ≤ 1 s, search p99 < 50 ms. The exit status
// is 1 only for wrong answers (a re-run that writes, a count that differs from the SQL's, an error).
// Uses DATABASE_URL's server when set, else an embedded PostgreSQL in .carebook/bench; a throwaway
// database either way. BENCH_SECONDS sets each search measurement (default 5).
// Each step prints its wall time beside the CPU time Node and the PostgreSQL backends spent (the
// backends' only when the server runs on this machine) and the machine's load when it started:
// other work on a shared box stretches wall time, hardly CPU time.
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Temporal } from 'temporal-polyfill';
import { Agent, request } from 'undici';
import { openCluster, uniqueDatabaseName } from '../src/db/cluster.js';
import { migrateUp } from '../src/db/migrate/runner.js';
import { createPool } from '../src/db/pool.js';
import { signToken } from '../src/http/auth.js';
import { regenerateAll } from '../src/schedules/generate-all.js';
import { startAppWorker } from './lib/app-worker.js';
import { runClosedLoop } from './lib/closed-loop.js';
import { type CpuSpent, cpuSince, localBackends, readCpu } from './lib/cpu.js';
import { wholeNumberFromEnv } from './lib/env.js';
import { loadText, type MachineLoad, machineLoad } from './lib/slots-load.js';
import { fixed, formatTable } from './lib/table.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const ZONES = ['America/New_York', 'Europe/Madrid', 'Australia/Sydney', 'America/Santiago', 'Asia/Kolkata'];
const PER_CLINIC = 10;
const HORIZON = 90;
const CLIENTS = 8;
const POOL_MAX = 4;
const APPLICATION = 'cbbench-slots';
// The pure-SQL insert is one statement of 100,000 rows: on a busy machine it has taken 9 s, and the
// application's 10-second query_timeout (src/db/pool.ts) then failed the run.
const STATEMENT_TIMEOUT_MS = 300_000;
const progress = (line: string) => process.stderr.write(`· ${line}\n`);

interface Step<T> {
  result: T;
  seconds: number;
  cpu: CpuSpent;
  load: MachineLoad;
}

/** `backends` names the PostgreSQL backends of the step, read as it starts (the pool closes idle ones). */
async function measure<T>(backends: () => Promise<number[]>, fn: () => Promise<T>): Promise<Step<T>> {
  const load = machineLoad();
  const cpu = readCpu(await backends());
  const started = process.hrtime.bigint();
  const result = await fn();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { result, seconds, cpu: cpuSince(cpu), load };
}

const cpuSeconds = (ms: number | null) => fixed(ms === null ? null : ms / 1000, 2);

async function main(): Promise<number> {
  const measureSeconds = wholeNumberFromEnv('BENCH_SECONDS', 5, 1, 600);
  const cluster = await openCluster({
    databaseUrl: process.env.DATABASE_URL,
    dataDir: path.join(ROOT, '.carebook', 'bench'),
  });
  const name = uniqueDatabaseName('cbbench_slots');
  const problems: string[] = [];
  const cleanup: Array<() => Promise<unknown>> = [];
  try {
    const url = await cluster.createDatabase(name);
    progress(`migrating ${name}`);
    await migrateUp({ databaseUrl: url });
    const pool = createPool(url, {
      max: POOL_MAX,
      applicationName: APPLICATION,
      queryTimeoutMs: STATEMENT_TIMEOUT_MS,
    });
    cleanup.push(() => pool.end());
    await pool.query(await readFile(path.join(ROOT, 'bench', 'lib', 'sql-expansion.sql'), 'utf8'));
    const server = (await pool.query<{ v: string }>('SELECT current_setting($$server_version$$) AS v'))
      .rows[0]?.v;

    progress(`seeding ${ZONES.length} clinics × ${PER_CLINIC} practitioners`);
    const clinics: Array<{ id: string; zone: string; practitioners: string[] }> = [];
    for (const zone of ZONES) {
      const clinicId = randomUUID();
      await pool.query('INSERT INTO clinics (id, name, slug, timezone) VALUES ($1, $2, $3, $4)', [
        clinicId,
        `Bench ${zone}`,
        `bench-${clinicId.slice(0, 8)}`,
        zone,
      ]);
      const practitioners: string[] = [];
      for (let i = 0; i < PER_CLINIC; i++) {
        const id = randomUUID();
        practitioners.push(id);
        await pool.query(
          `INSERT INTO users (id, clinic_id, role, full_name, email) VALUES ($1, $2, 'practitioner', 'Dr Bench', $3)`,
          [id, clinicId, `dr-${id.slice(0, 8)}@bench.example`],
        );
        const schedule = await pool.query<{ id: string }>(
          `INSERT INTO practitioner_schedules (clinic_id, practitioner_id, valid_from, slot_minutes, horizon_days)
           VALUES ($1, $2, '2025-01-06', 30, $3) RETURNING id`,
          [clinicId, id, HORIZON],
        );
        await pool.query(
          `INSERT INTO schedule_rules (clinic_id, schedule_id, weekday, start_time, end_time)
           SELECT $1, $2, d, '08:00', '20:00' FROM generate_series(1, 7) d`,
          [clinicId, schedule.rows[0]?.id],
        );
      }
      clinics.push({ id: clinicId, zone, practitioners });
    }

    // Every connection of the pool open when a step starts, so the backends whose CPU time is read
    // are all the step uses.
    const backends = async () => {
      const held = await Promise.all(Array.from({ length: POOL_MAX }, () => pool.connect()));
      for (const client of held) client.release();
      return localBackends(pool, url, [APPLICATION]);
    };

    // A fixed amount of work on each side, to compare this machine's speed with another's (or
    // with itself on another day): the per-row figures below scale with it.
    const pgReference = await measure(backends, () =>
      pool.query('SELECT count(*) FROM generate_series(1, 2000000)'),
    );
    const nodeReference = await measure(backends, async () => {
      let sum = 0;
      for (let i = 0; i < 100_000_000; i++) sum = (sum + i) % 1_000_003;
      return sum;
    });

    progress('TypeScript: first generation');
    const first = await measure(backends, () => regenerateAll(pool));
    progress('TypeScript: re-run');
    const rerun = await measure(backends, () => regenerateAll(pool));
    const rerunWrites = rerun.result.created + rerun.result.withdrawn + rerun.result.needs_review;
    if (rerunWrites !== 0) problems.push(`the re-run wrote ${rerunWrites} rows`);

    progress('pure SQL: generate, insert, re-run');
    await pool.query(`CREATE TABLE bench_sql_slots (LIKE appointment_slots INCLUDING ALL)`);
    await pool.query('CREATE UNIQUE INDEX ON bench_sql_slots (practitioner_id, starts_at)');
    const now = new Date();
    const sqlGenerate = await measure(backends, async () =>
      Number((await pool.query('SELECT count(*) AS n FROM bench_expand_sql($1)', [now])).rows[0]?.n),
    );
    const generated = sqlGenerate.result;
    const insert = `INSERT INTO bench_sql_slots (clinic_id, practitioner_id, starts_at, ends_at, schedule_id, rule_id, local_date)
                    SELECT u.clinic_id, e.practitioner_id, e.starts_at, e.ends_at, e.schedule_id, e.rule_id, e.local_date
                      FROM bench_expand_sql($1) e JOIN users u ON u.id = e.practitioner_id
                    ON CONFLICT (practitioner_id, starts_at) DO NOTHING`;
    const sqlInsert = await measure(backends, async () => (await pool.query(insert, [now])).rowCount ?? 0);
    const sqlRerun = await measure(backends, async () => (await pool.query(insert, [now])).rowCount ?? 0);
    if (Math.abs(generated - first.result.created) > first.result.practitioners) {
      problems.push(`TypeScript created ${first.result.created} slots, the SQL expansion ${generated}`);
    }
    // What autovacuum would do soon after a generation (the CI server runs with autovacuum off):
    // the search is measured in the steady state, not in the minute after a generation.
    await pool.query('ANALYZE appointment_slots');

    progress(`availability search at ${CLIENTS} clients, ${measureSeconds} s each`);
    const secret = randomBytes(32).toString('base64url');
    const app = await startAppWorker({
      env: {
        DATABASE_URL: url,
        CAREBOOK_JWT_SECRET: secret,
        CAREBOOK_DB_POOL_MAX: '16',
        LOG_LEVEL: 'silent',
      },
    });
    cleanup.unshift(() => app.close());
    const searches: Array<{
      label: string;
      slots: number;
      step: Step<Awaited<ReturnType<typeof runClosedLoop>>>;
    }> = [];
    for (const [label, days, onePractitioner] of [
      ['1 practitioner × 14 days', 14, true],
      [`clinic (${PER_CLINIC} practitioners) × 62 days, first page of 500`, 62, false],
    ] as const) {
      const clinic = clinics[1] as (typeof clinics)[number];
      const token = await signToken(secret, { sub: 'bench-desk', role: 'staff', clinic_id: clinic.id });
      const today = Temporal.Now.plainDateISO(clinic.zone);
      const query = new URLSearchParams({
        clinic_id: clinic.id,
        from: today.add({ days: 1 }).toString(),
        to: today.add({ days }).toString(),
        ...(onePractitioner ? { practitioner_id: clinic.practitioners[0] as string } : {}),
      });
      const agent = new Agent({ connections: CLIENTS });
      let slots = 0;
      const task = async () => {
        const response = await request(`${app.url}/api/availability?${query}`, {
          dispatcher: agent,
          headers: { authorization: `Bearer ${token}` },
        });
        const body = (await response.body.json()) as { days?: Array<{ slots: unknown[] }> };
        if (response.statusCode !== 200) throw new Error(`HTTP ${response.statusCode}`);
        slots = (body.days ?? []).reduce((n, day) => n + day.slots.length, 0);
        return slots > 0;
      };
      await runClosedLoop({ concurrency: CLIENTS, durationMs: 1000, task });
      const apiBackends = () => localBackends(pool, url, ['carebook-api-bench']);
      const step = await measure(apiBackends, () =>
        runClosedLoop({ concurrency: CLIENTS, durationMs: measureSeconds * 1000, task }),
      );
      await agent.close();
      const result = step.result;
      if (result.errors > 0)
        problems.push(`${label}: ${result.errors} failed (${result.errorSamples.join('; ')})`);
      searches.push({ label, slots, step });
    }

    const row = <T>(label: string, step: Step<T>, written: number, slots: number) => [
      label,
      fixed(step.seconds, 2),
      cpuSeconds(step.cpu.processMs),
      cpuSeconds(step.cpu.databaseMs),
      String(written),
      String(slots),
      loadText(step.load),
    ];
    console.log(
      `\nslot generation — ${first.result.practitioners} practitioners × ${HORIZON} days, PostgreSQL ${server}`,
    );
    console.log(
      formatTable(
        ['run', 'seconds', 'Node CPU s', 'PostgreSQL CPU s', 'rows written', 'slots', 'load / CPU pressure'],
        [
          row('TypeScript first generation', first, first.result.created, first.result.created),
          row('TypeScript re-run', rerun, rerunWrites, rerun.result.unchanged),
          row('pure SQL, generate only', sqlGenerate, 0, generated),
          row('pure SQL, generate + insert', sqlInsert, sqlInsert.result, sqlInsert.result),
          row('pure SQL, re-run (ON CONFLICT DO NOTHING)', sqlRerun, sqlRerun.result, generated),
        ],
      ),
    );
    console.log(
      `TypeScript / SQL insert: first ${fixed(first.seconds / sqlInsert.seconds, 2)}×, re-run ${fixed(rerun.seconds / sqlRerun.seconds, 2)}× the time`,
    );
    console.log(
      `machine reference: PostgreSQL count(*) of 2,000,000 rows ${cpuSeconds(pgReference.cpu.databaseMs)} s CPU (${fixed(pgReference.seconds, 2)} s wall), Node 10^8 loop steps ${cpuSeconds(nodeReference.cpu.processMs)} s CPU (${fixed(nodeReference.seconds, 2)} s wall), load ${loadText(pgReference.load)}`,
    );
    console.log(`\navailability search — ${CLIENTS} clients, ${measureSeconds} s, through the API`);
    const perRequest = (ms: number | null, requests: number) => fixed(ms === null ? null : ms / requests, 2);
    console.log(
      formatTable(
        [
          'query',
          'slots per answer',
          'req/s',
          'p50 ms',
          'p99 ms',
          'Node CPU ms/req',
          'PostgreSQL CPU ms/req',
          'load / CPU pressure',
        ],
        searches.map((s) => [
          s.label,
          String(s.slots),
          fixed(s.step.result.rate),
          fixed(s.step.result.latency.percentile(50), 1),
          fixed(s.step.result.latency.percentile(99), 1),
          perRequest(s.step.cpu.processMs, s.step.result.ok),
          perRequest(s.step.cpu.databaseMs, s.step.result.ok),
          loadText(s.step.load),
        ]),
      ),
    );
    const verdict = (ok: boolean) => (ok ? 'met' : 'not met');
    console.log(
      `\ntarget first generation ≤ 2 s: ${verdict(first.seconds <= 2)} (${fixed(first.seconds, 2)} s)`,
    );
    console.log(`target re-run ≤ 1 s: ${verdict(rerun.seconds <= 1)} (${fixed(rerun.seconds, 2)} s)`);
    for (const s of searches) {
      const p99 = s.step.result.latency.percentile(99);
      console.log(`target search p99 < 50 ms, ${s.label}: ${verdict(p99 < 50)} (${fixed(p99, 1)} ms)`);
    }
    console.log(`load average at the end: ${loadText(machineLoad())}`);
  } catch (error) {
    problems.push(
      `the benchmark stopped: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
  } finally {
    for (const step of cleanup) await step().catch(() => {});
    await cluster.dropDatabase(name).catch(() => {});
    await cluster.close();
  }
  for (const problem of problems) console.error(`ERROR ${problem}`);
  return problems.length > 0 ? 1 : 0;
}

process.exit(await main());
