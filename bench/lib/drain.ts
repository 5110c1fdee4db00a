// What every drain of bench:webhooks shares, so that both sides of a comparison are prepared,
// timed and charged alike: items loaded in bulk (generate_series, untimed), then vacuumed, analysed
// and checkpointed; pools opened before the clock; a clock from the first claim to the last
// commit, with a cap; the CPU each side spent (bench/lib/cpu.ts); and a logger that turns a queue
// worker's warnings into problems of the run, since a batch that fails is retried quietly.
import type pg from 'pg';
import pino from 'pino';
import { type CpuSpent, cpuSince, localBackends, readCpu } from './cpu.js';

export interface DrainResult {
  /** Items settled in the timed section (all of them unless the time cap stopped the run). */
  items: number;
  elapsedMs: number;
  rate: number;
  /** The time cap stopped the run before the queue was empty. */
  capped: boolean;
  cpu: CpuSpent;
  /** CPU of a helper thread in this process (the HTTP endpoint), included in cpu.processMs; else null. */
  helperMs: number | null;
  problems: string[];
}

export interface ClockOptions {
  admin: pg.Pool;
  databaseUrl: string;
  /** The application_name of the drainer's pools: their backends' CPU is the database's share. */
  applications: readonly string[];
  capMs: number;
  /** CPU time (ms) of a helper thread so far, to be told apart from the drainer's own. */
  helperCpuMs?: () => Promise<number>;
}

export interface Clock {
  started: bigint;
  deadline: bigint;
  cpu: ReturnType<typeof readCpu>;
  helperCpuMs: (() => Promise<number>) | null;
  helperStartMs: number;
}

export async function startClock(options: ClockOptions): Promise<Clock> {
  const backends = await localBackends(options.admin, options.databaseUrl, options.applications);
  const helperCpuMs = options.helperCpuMs ?? null;
  const helperStartMs = helperCpuMs ? await helperCpuMs() : 0;
  const cpu = readCpu(backends);
  const started = process.hrtime.bigint();
  return {
    started,
    deadline: started + BigInt(Math.round(options.capMs * 1e6)),
    cpu,
    helperCpuMs,
    helperStartMs,
  };
}

export const pastDeadline = (clock: Clock) => process.hrtime.bigint() >= clock.deadline;

/** Resolves true when `done` settles first, false when the clock's cap comes first. */
export async function beforeDeadline(clock: Clock, done: Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const cap = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Number(clock.deadline - process.hrtime.bigint()) / 1e6);
  });
  return Promise.race([done.then(() => true), cap]).finally(() => clearTimeout(timer));
}

/** Polls `sql` every 2 ms until it returns no row (true) or the cap passes (false). */
export async function untilNoRow(admin: pg.Pool, sql: string, values: unknown[], clock: Clock) {
  for (;;) {
    if ((await admin.query(sql, values)).rowCount === 0) return true;
    if (pastDeadline(clock)) return false;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** The time from the start to the last commit, items per second over it, and the CPU spent. */
export async function stopClock(clock: Clock, items: number, capped: boolean): Promise<DrainResult> {
  const elapsedMs = Number(process.hrtime.bigint() - clock.started) / 1e6;
  const cpu = cpuSince(clock.cpu);
  const helperMs = clock.helperCpuMs ? (await clock.helperCpuMs()) - clock.helperStartMs : null;
  return { items, elapsedMs, rate: (items * 1000) / elapsedMs, capped, cpu, helperMs, problems: [] };
}

/** Counts settled items; `reached` resolves once `target` have been counted. */
export class Countdown {
  count = 0;
  readonly reached: Promise<void>;
  private resolve: () => void = () => {};

  constructor(readonly target: number) {
    this.reached = new Promise((resolve) => {
      this.resolve = resolve;
    });
  }

  add(n = 1): void {
    this.count += n;
    if (this.count >= this.target) this.resolve();
  }
}

/** Runs `build` with each 20,000-row chunk of 1…n as a generate_series FROM item named `i`. */
export async function bulk(admin: pg.Pool, n: number, build: (series: string) => string): Promise<void> {
  const chunk = 20_000;
  for (let from = 1; from <= n; from += chunk) {
    const to = Math.min(n, from + chunk - 1);
    await admin.query(build(`generate_series(${from}, ${to}) AS i`));
  }
}

/**
 * After loading: fresh statistics and visibility maps, and a checkpoint, so that neither side
 * drains behind the other's (or its own loading's) dirty pages and each starts its full-page
 * writes afresh. CHECKPOINT needs a superuser (or pg_checkpoint): the bench's own login.
 */
export async function prepareTables(admin: pg.Pool, tables: readonly string[]): Promise<void> {
  for (const table of tables) await admin.query(`VACUUM ANALYZE ${table}`);
  await admin.query('CHECKPOINT');
}

/** Opens every connection of a pool: a connect is not queue work (both sides get the same). */
export async function warm(pool: pg.Pool, connections: number): Promise<void> {
  const clients = await Promise.all(Array.from({ length: connections }, () => pool.connect()));
  for (const client of clients) client.release();
}

/** A logger that keeps a queue worker's warnings and errors (the first few) as problems of the run. */
export function problemLogger(problems: string[], where: string): pino.Logger {
  return pino(
    { level: 'warn' },
    {
      write(line: string) {
        if (problems.length >= 5) return;
        const entry = JSON.parse(line) as { msg?: string; err?: { message?: string }; error?: string };
        const detail = entry.err?.message ?? entry.error;
        problems.push(`${where} logged: ${entry.msg ?? line}${detail ? ` (${detail})` : ''}`);
      },
    },
  );
}
