// The embedded PostgreSQL (the default when DATABASE_URL is unset) keeps its data across
// restarts, and recovers from a predecessor killed with SIGKILL that left its postmaster running.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
// Inside the project (not a 0700 temp dir): as root, the `postgres` OS user must reach it.
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
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

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
});
