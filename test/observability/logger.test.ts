// Errors reach the log as type, message, code and stack only: the error pg-pool emits for a
// backend killed while idle carries the whole client (its settings, its prepared statements), which
// pino's default serializer would write out as a line of kilobytes.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../../src/db/pool.js';
import { createLogger } from '../../src/observability/logger.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';

describe('logger', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  it('logs a pg error of a killed idle connection without the client attached to it', async () => {
    const lines: string[] = [];
    let logged: () => void = () => {};
    const written = new Promise<void>((resolve) => (logged = resolve));
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        logged();
        done();
      },
    });
    const pool = createPool(db.url, { max: 1, logger: createLogger('warn', 'test', stream) });
    try {
      const client = await pool.connect();
      const [{ pid }] = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows as [
        { pid: number },
      ];
      client.release(); // idle in the pool now
      await sql(db.pool, 'SELECT pg_terminate_backend($1)', [pid]);
      await written;
    } finally {
      await pool.end();
    }
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0] as string);
    expect(entry.msg).toBe('idle database connection failed; the pool will replace it');
    expect(Object.keys(entry.err).sort()).toEqual(['code', 'message', 'stack', 'type']);
    expect(entry.err).toMatchObject({ type: 'error', code: '57P01' });
    expect(lines[0]).not.toContain('client');
    expect(lines[0]?.length).toBeLessThan(2_000);
  });

  it('keeps a thrown value that is not an Error as it is', () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    createLogger('info', 'test', stream).info({ err: 'plain text' }, 'odd failure');
    expect(JSON.parse(lines[0] as string).err).toBe('plain text');
  });
});
