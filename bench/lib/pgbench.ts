// pgbench as the database's own limit: a C client with prepared statements and no application in
// between. The connection goes through PG* environment variables, so a password never shows up in
// the process list.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** pgbench's version line, or null when it is not on the PATH. */
export async function pgbenchVersion(): Promise<string | null> {
  try {
    const { stdout } = await run('pgbench', ['--version']);
    return stdout.trim();
  } catch {
    return null;
  }
}

export interface PgbenchOptions {
  databaseUrl: string;
  /** The custom script (pgbench's SQL dialect: `:name` variables, `\set`, one command per `;`). */
  script: string;
  clients: number;
  seconds: number;
  /**
   * Seconds run first on the same connections and left out of `tps`. Each run of pgbench opens
   * new backends, whose first calls compile PL/pgSQL and fill catalog caches; a separate warm-up
   * run would warm other backends than the measured ones.
   */
  warmupSeconds?: number;
  /** -D name=value definitions, available to the script as :name. */
  variables?: Record<string, string | number>;
  /** Query mode: prepared (the default here) is pgbench at its fastest. */
  protocol?: 'simple' | 'extended' | 'prepared';
}

export interface PgbenchResult {
  /** Transactions per second after the warm-up (pgbench's own figure when there is none). */
  tps: number;
  /** Every transaction committed, warm-up included. */
  transactions: number;
  failed: number;
  /** pgbench's exit status is non-zero when a client aborted (e.g. on an SQL error). */
  aborted: boolean;
  /** The first few distinct error lines (pgbench repeats one error per client). */
  errorSummary: string;
  output: string;
}

export async function runPgbench(options: PgbenchOptions): Promise<PgbenchResult> {
  const dir = await mkdtemp(path.join(tmpdir(), 'carebook-pgbench-'));
  const scriptFile = path.join(dir, 'script.sql');
  const warmup = options.warmupSeconds ?? 0;
  try {
    await writeFile(scriptFile, options.script);
    const args = [
      '-n', // no VACUUM of pgbench's own tables: there are none
      '-c',
      String(options.clients),
      '-j',
      String(Math.min(options.clients, 2)),
      '-T',
      String(warmup + options.seconds),
      '-P',
      '1', // per-second progress on stderr, from which the warm-up is cut off
      '-M',
      options.protocol ?? 'prepared',
      '-f',
      scriptFile,
      ...Object.entries(options.variables ?? {}).flatMap(([name, value]) => ['-D', `${name}=${value}`]),
    ];
    let stdout = '';
    let stderr = '';
    let aborted = false;
    try {
      ({ stdout, stderr } = await run('pgbench', args, { env: connectionEnv(options.databaseUrl) }));
    } catch (error) {
      const failed = error as { stdout?: string; stderr?: string };
      stdout = failed.stdout ?? '';
      stderr = failed.stderr ?? String(error);
      aborted = true;
    }
    const output = `${stdout}\n${stderr}`;
    const number = (pattern: RegExp) => Number(pattern.exec(output)?.[1] ?? Number.NaN);
    const progress = [...output.matchAll(/^progress: ([\d.]+) s, ([\d.]+) tps/gm)]
      .map((match) => ({ at: Number(match[1]), tps: Number(match[2]) }))
      .filter((line) => line.at > warmup + 0.5);
    const measured = progress.reduce((sum, line) => sum + line.tps, 0) / progress.length;
    return {
      tps: warmup > 0 ? measured : number(/^tps = ([\d.]+)/m),
      transactions: number(/number of transactions actually processed: (\d+)/),
      failed: number(/number of failed transactions: (\d+)/) || 0,
      aborted,
      errorSummary: [...new Set(output.split('\n').filter((line) => /error|HINT|LINE \d/i.test(line)))]
        .slice(0, 6)
        .join('\n'),
      output,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function connectionEnv(databaseUrl: string): NodeJS.ProcessEnv {
  const url = new URL(databaseUrl);
  return {
    ...process.env,
    PGHOST: url.hostname,
    PGPORT: url.port || '5432',
    PGUSER: decodeURIComponent(url.username),
    PGPASSWORD: decodeURIComponent(url.password),
    PGDATABASE: decodeURIComponent(url.pathname.slice(1)),
  };
}
