// A real primary and streaming standby made with the PostgreSQL 15 server binaries: initdb,
// pg_basebackup -R, pg_ctl. PostgreSQL refuses to run as root, so every binary runs as the
// `postgres` OS user, in a directory under /tmp that it owns.
import { execFile } from 'node:child_process';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePorts } from '../../src/db/embedded.js';

const BIN = process.env.CAREBOOK_PG15_BIN ?? '/usr/lib/postgresql/15/bin';
const run = promisify(execFile);

async function asPostgres(binary: string, args: string[]): Promise<string> {
  const command = path.join(BIN, binary);
  const asRoot = userInfo().uid === 0;
  const { stdout } = await run(
    asRoot ? 'runuser' : command,
    asRoot ? ['-u', 'postgres', '--', command, ...args] : args,
    {
      cwd: '/tmp',
    },
  );
  return stdout;
}

export interface StreamingPair {
  primaryUrl(database: string): string;
  standbyUrl(database: string): string;
  /** Stops applying WAL on the standby (it keeps receiving it): reads lag from now on. */
  pauseReplay(): Promise<void>;
  resumeReplay(): Promise<void>;
  /** Resolves once the standby has replayed everything the primary has written so far. */
  catchUp(): Promise<void>;
  stop(): Promise<void>;
}

async function scalar(url: string, text: string): Promise<unknown> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows[0]?.value;
  } finally {
    await client.end();
  }
}

export async function startStreamingPair(): Promise<StreamingPair> {
  const dir = await mkdtemp('/tmp/carebook-replica-');
  const pgUser = await run('id', ['-u', 'postgres']).then(({ stdout }) => Number(stdout.trim()));
  const pgGroup = await run('id', ['-g', 'postgres']).then(({ stdout }) => Number(stdout.trim()));
  if (userInfo().uid === 0) await chown(dir, pgUser, pgGroup);
  const primary = path.join(dir, 'primary');
  const standby = path.join(dir, 'standby');
  const [primaryPort, standbyPort] = (await freePorts(2)) as [number, number];
  const options = (port: number) =>
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c wal_level=replica -c max_wal_senders=4 -c hot_standby=on`;

  await asPostgres('initdb', ['-D', primary, '-U', 'postgres', '--auth=trust', '--no-sync']);
  await asPostgres('pg_ctl', [
    '-D',
    primary,
    '-l',
    path.join(dir, 'primary.log'),
    '-w',
    '-o',
    options(primaryPort),
    'start',
  ]);
  const stopAll = async () => {
    for (const data of [standby, primary]) {
      await asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await asPostgres('pg_basebackup', [
      '-h',
      '127.0.0.1',
      '-p',
      String(primaryPort),
      '-U',
      'postgres',
      '-D',
      standby,
      '-R',
      '-X',
      'stream',
    ]);
    await asPostgres('pg_ctl', [
      '-D',
      standby,
      '-l',
      path.join(dir, 'standby.log'),
      '-w',
      '-o',
      options(standbyPort),
      'start',
    ]);
  } catch (error) {
    await stopAll();
    throw error;
  }
  const url = (port: number, database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const pair: StreamingPair = {
    primaryUrl: (database) => url(primaryPort, database),
    standbyUrl: (database) => url(standbyPort, database),
    pauseReplay: async () => {
      await scalar(url(standbyPort, 'postgres'), 'SELECT pg_wal_replay_pause()');
    },
    resumeReplay: async () => {
      await scalar(url(standbyPort, 'postgres'), 'SELECT pg_wal_replay_resume()');
    },
    catchUp: async () => {
      const target = await scalar(url(primaryPort, 'postgres'), 'SELECT pg_current_wal_lsn()::text AS value');
      for (let attempt = 0; attempt < 600; attempt++) {
        const behind = await scalar(
          url(standbyPort, 'postgres'),
          `SELECT pg_wal_lsn_diff('${String(target)}', pg_last_wal_replay_lsn()) > 0 AS value`,
        );
        if (behind === false) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error('the standby did not catch up within 30 s');
    },
    stop: stopAll,
  };
  return pair;
}
