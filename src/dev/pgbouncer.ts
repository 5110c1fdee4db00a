// A real PgBouncer (Debian's `pgbouncer`, which `.ci/run` installs) in front of a PostgreSQL
// server, for the topology tests and `npm run bench:booking`. Transaction pooling by default: the
// mode that platforms put in front of PostgreSQL and that breaks session state.
// PgBouncer will not run as root; as root it is started with `-u postgres`, so its files live in a
// directory that user can read.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../db/embedded.js';

const run = promisify(execFile);
export const PGBOUNCER_BINARY = '/usr/sbin/pgbouncer';

export interface PgBouncerOptions {
  /** The PostgreSQL server PgBouncer connects to (host and port are used). */
  serverUrl: string;
  /** Logins clients may use (user name → password; passwords are passed on to the server). */
  users: Record<string, string>;
  poolMode?: 'transaction' | 'session';
  /** Server connections per database and user. */
  poolSize?: number;
}

export interface PgBouncer {
  port: number;
  /** `url` with host and port replaced by PgBouncer's. */
  urlFor(url: string): string;
  /** PgBouncer's own log so far (connection errors, pool warnings). */
  log(): Promise<string>;
  stop(): Promise<void>;
}

export function pgbouncerInstalled(): boolean {
  return existsSync(PGBOUNCER_BINARY);
}

/** "PgBouncer 1.18.0", for reports. */
export async function pgbouncerVersion(): Promise<string> {
  const { stdout } = await run(PGBOUNCER_BINARY, ['--version']);
  return stdout.split('\n')[0]?.trim() ?? 'PgBouncer';
}

export async function startPgBouncer(options: PgBouncerOptions): Promise<PgBouncer> {
  if (!pgbouncerInstalled()) {
    throw new Error(
      `${PGBOUNCER_BINARY} is missing: install Debian's pgbouncer (apt-get install -y pgbouncer)`,
    );
  }
  const server = new URL(options.serverUrl);
  const dir = await mkdtemp(path.join(tmpdir(), 'carebook-pgbouncer-'));
  await chmod(dir, 0o755);
  const port = await freePort();
  const quote = (value: string) => `"${value.replaceAll('"', '""')}"`;
  await writeFile(
    path.join(dir, 'users.txt'),
    Object.entries(options.users)
      .map(([user, password]) => `${quote(user)} ${quote(password)}`)
      .join('\n'),
    { mode: 0o644 },
  );
  await writeFile(
    path.join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=${server.hostname} port=${server.port || 5432}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${path.join(dir, 'users.txt')}`,
      `pool_mode = ${options.poolMode ?? 'transaction'}`,
      `default_pool_size = ${options.poolSize ?? 10}`,
      'max_client_conn = 2000',
      // pg sends these startup parameters; PgBouncer would refuse the connection otherwise.
      'ignore_startup_parameters = extra_float_digits,options',
      `logfile = ${path.join(dir, 'pgbouncer.log')}`,
      `pidfile = ${path.join(dir, 'pgbouncer.pid')}`,
    ].join('\n'),
    { mode: 0o644 },
  );
  const asRoot = process.getuid?.() === 0;
  try {
    if (asRoot) {
      // It writes its log and pid file here as that user.
      const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
      const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
      await chown(dir, uid, gid);
    }
    await run(PGBOUNCER_BINARY, [
      ...(asRoot ? ['-u', 'postgres'] : []),
      '-d',
      path.join(dir, 'pgbouncer.ini'),
    ]);
    await waitForPort(port);
  } catch (error) {
    const log = await readFile(path.join(dir, 'pgbouncer.log'), 'utf8').catch(() => '');
    await rm(dir, { recursive: true, force: true });
    throw new Error(`PgBouncer did not start${log ? `: ${log.trim().split('\n').at(-1)}` : ''}`, {
      cause: error,
    });
  }
  return {
    port,
    urlFor: (url) => {
      const pooled = new URL(url);
      pooled.hostname = '127.0.0.1';
      pooled.port = String(port);
      return pooled.toString();
    },
    log: () => readFile(path.join(dir, 'pgbouncer.log'), 'utf8').catch(() => ''),
    stop: async () => {
      const pid = Number((await readFile(path.join(dir, 'pgbouncer.pid'), 'utf8').catch(() => '')).trim());
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // already gone
        }
        for (let waited = 0; waited < 5000 && alive(pid); waited += 50)
          await new Promise((r) => setTimeout(r, 50));
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitForPort(port: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ port, host: '127.0.0.1' }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port}`);
}
