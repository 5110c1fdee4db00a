// withTenant on a pipelined pool (the worker's) that connects directly sends BEGIN, the tenant
// context and the transaction's first statement together (node-postgres pipeline mode); behind a
// transaction pooler the same pool sends one statement at a time. Either way, a context the server refuses is the error
// the caller sees, and the connection is fit for the next transaction.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '../../src/db/pool.js';
import { TransactionRolledBackError, withTenant } from '../../src/db/tenant.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

describe('withTenant, pipelined', () => {
  let db: TestDatabase;
  const login = `cbt_nomember_${randomBytes(3).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  const pools: Pool[] = [];
  beforeAll(async () => {
    db = await createTestDatabase();
    // A login that may not become carebook_worker: the context's set_config('role', …) fails.
    await db.pool.query(`CREATE ROLE ${login} LOGIN PASSWORD '${password}'`);
  });
  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.end()));
    await db?.pool.query(`DROP ROLE IF EXISTS ${login}`);
    await db?.drop();
  });

  const poolAs = (user: string | null, namedStatements: boolean) => {
    const url = new URL(db.url);
    if (user !== null) {
      url.username = user;
      url.password = password;
    }
    const pool = createPool(url.toString(), { max: 1, namedStatements, pipeline: true });
    pools.push(pool);
    return pool;
  };
  const worker = { dbRole: 'carebook_worker', appRole: 'service', userId: 'pipeline-test' } as const;

  for (const namedStatements of [true, false]) {
    const mode = namedStatements ? 'pipelined' : 'one statement at a time (pooler)';
    it(`${mode}: the transaction's statements run in its context`, async () => {
      const pool = poolAs(null, namedStatements);
      const client = await pool.connect();
      expect(client.pipeline).toBe(namedStatements);
      client.release();
      const seen = await withTenant(pool, worker, async (tx) => {
        const first = await tx.query<{ role: string; user: string }>(
          `SELECT current_user AS role, current_setting('carebook.user_id') AS user`,
        );
        return first.rows[0];
      });
      expect(seen).toEqual({ role: 'carebook_worker', user: 'pipeline-test' });
    });

    it(`${mode}: a context the server refuses is the error reported, and the connection is reused`, async () => {
      const pool = poolAs(login, namedStatements);
      let statements = 0;
      const failure = await withTenant(pool, worker, async (tx) => {
        statements += 1;
        await tx.query('SELECT 1');
      }).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(pg.DatabaseError);
      expect((failure as pg.DatabaseError).message).toMatch(
        /permission denied to set role "carebook_worker"/,
      );
      // Pipelined, the first statement was already sent (and failed as "aborted"); otherwise it never ran.
      expect(statements).toBe(namedStatements ? 1 : 0);
      // The pool's one connection was rolled back and kept: an aborted transaction left open would
      // refuse this statement.
      const plain = await pool.query<{ n: number }>('SELECT 1 AS n');
      expect(plain.rows).toEqual([{ n: 1 }]);
    });
  }
});

describe('withTenant, a transaction whose statement failed', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db?.drop());

  it('is reported as rolled back, not as committed, when fn swallowed the failure', async () => {
    const worker = { dbRole: 'carebook_worker', appRole: 'service', userId: 'rollback-test' } as const;
    const pool = createPool(db.url, { max: 1, pipeline: true });
    const failure = await withTenant(pool, worker, async (tx) => {
      // Sent and left unawaited, as a pipelined last statement is; it fails inside the transaction.
      tx.query('SELECT 1 / 0').catch(() => {});
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(TransactionRolledBackError);
    // Any pool: a statement error swallowed by fn rolled the transaction back all the same.
    const swallowed = await withTenant(db.pool, worker, async (tx) => {
      await tx.query('SELECT 1 / 0').catch(() => 'ignored');
    }).catch((error: unknown) => error);
    expect(swallowed).toBeInstanceOf(TransactionRolledBackError);
    await pool.end();
  });
});
