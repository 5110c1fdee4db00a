// The embedded PostgreSQL (the default when DATABASE_URL is unset) keeps its data across
// restarts, recovers from a predecessor killed with SIGKILL that left its postmaster running, and
// starts as root under a directory only root may enter.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, realpath, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const dataDir = path.join(ROOT, '.carebook', `embedded-test-${randomBytes(4).toString('hex')}`);

async function query(url: string, text: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

describe('embedded PostgreSQL', () => {
  const children: ChildProcess[] = [];
  afterAll(async () => {
    // After a failure: no owner left running, nor the postmaster it leaves (a start stops it).
    const running = children.filter((child) => child.exitCode === null && child.signalCode === null);
    for (const child of running) child.kill('SIGKILL');
    if (running.length > 0) await (await startEmbeddedPostgres({ dataDir })).stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps its data across a restart', async () => {
    await mkdir(path.dirname(dataDir), { recursive: true });
    const first = await startEmbeddedPostgres({ dataDir, ephemeralDurability: true });
    await query(first.adminUrl, 'CREATE TABLE kept (v text); INSERT INTO kept VALUES ($$still here$$)');
    await first.stop();

    const second = await startEmbeddedPostgres({ dataDir, ephemeralDurability: true });
    try {
      expect(await query(second.adminUrl, 'SELECT v FROM kept')).toEqual([{ v: 'still here' }]);
      expect(second.adminUrl).toMatch(/^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/postgres$/);
    } finally {
      await second.stop();
    }
  });

  it('shares the server of a running owner, and takes over from one killed with SIGKILL', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/embedded-child.ts', dataDir], {
      cwd: ROOT,
    });
    children.push(child);
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
      child.on('exit', () => reject(new Error('child exited before starting the server')));
    });
    await query(url, `INSERT INTO kept VALUES ('written before the crash')`);
    // While the owner lives, a second start shares its server (as `carebook replay` beside
    // `npm start` does) and its stop() leaves it running.
    const shared = await startEmbeddedPostgres({ dataDir, ephemeralDurability: true });
    expect(shared.adminUrl).toBe(url);
    await shared.stop();
    expect(await query(url, 'SELECT count(*)::int AS n FROM kept')).toEqual([{ n: 2 }]);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.on('exit', resolve));
    // The orphaned postmaster still answers: the data directory is busy until we take over.
    expect(await query(url, 'SELECT count(*)::int AS n FROM kept')).toEqual([{ n: 2 }]);

    const next = await startEmbeddedPostgres({ dataDir, ephemeralDurability: true });
    try {
      expect(await query(next.adminUrl, 'SELECT v FROM kept ORDER BY v')).toEqual([
        { v: 'still here' },
        { v: 'written before the crash' },
      ]);
    } finally {
      await next.stop();
    }
  });

  it('keeps the cluster where the postgres user can reach it when the data directory is closed to it', async () => {
    const closed = await mkdtemp(path.join(os.tmpdir(), 'carebook-closed-')); // mode 0700, as /root
    const privateDir = path.join(closed, 'data');
    const clusters = new Set<string>();
    const start = async () => {
      const server = await startEmbeddedPostgres({ dataDir: privateDir, ephemeralDurability: true });
      clusters.add(server.clusterDir);
      return server;
    };
    try {
      const first = await start();
      try {
        if (process.getuid?.() === 0) {
          expect(first.closedDirectory).toBe(await realpath(closed));
          expect(first.clusterDir).toMatch(/^\/var\/lib\/carebook\/clusters\/[0-9a-f]{16}$/);
        } else {
          expect(first).toMatchObject({ closedDirectory: null, clusterDir: path.join(privateDir, 'pg') });
        }
        await query(first.adminUrl, `CREATE TABLE kept (v text); INSERT INTO kept VALUES ('private')`);
      } finally {
        await first.stop();
      }
      const second = await start();
      try {
        expect(await query(second.adminUrl, 'SELECT v FROM kept')).toEqual([{ v: 'private' }]);
      } finally {
        await second.stop();
      }
      // Deleting the data directory starts from scratch, wherever the cluster was.
      await rm(privateDir, { recursive: true, force: true });
      const third = await start();
      try {
        expect(await query(third.adminUrl, `SELECT to_regclass('kept') AS kept`)).toEqual([{ kept: null }]);
      } finally {
        await third.stop();
      }
      expect(clusters.size).toBe(1);
      // A cluster whose data directory is gone is removed by the next start that places one.
      await rm(privateDir, { recursive: true, force: true });
      const other = await startEmbeddedPostgres({
        dataDir: path.join(closed, 'other'),
        ephemeralDurability: true,
      });
      clusters.add(other.clusterDir);
      await other.stop();
      expect(existsSync(third.clusterDir)).toBe(false);
    } finally {
      await rm(closed, { recursive: true, force: true });
      for (const cluster of clusters) {
        await rm(cluster, { recursive: true, force: true });
        await rm(`${cluster}.source`, { force: true });
      }
    }
  });
});
