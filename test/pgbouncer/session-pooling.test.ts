// PgBouncer in session mode keeps one server connection per client for the client's whole life,
// like PostgreSQL itself: the detection calls it session pooling (named statements, LISTEN and
// `carebook migrate` are all fine there), and calls transaction mode what it is.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectTransactionPooling } from '../../src/db/pooling.js';
import { type PgBouncer, startPgBouncer } from '../../src/dev/pgbouncer.js';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

describe('PgBouncer pool modes, as detected', () => {
  let db: TestDatabase;
  const bouncers: Record<'session' | 'transaction', PgBouncer | null> = { session: null, transaction: null };

  beforeAll(async () => {
    db = await createTestDatabase();
    const users = { [new URL(db.url).username]: decodeURIComponent(new URL(db.url).password) };
    for (const poolMode of ['session', 'transaction'] as const) {
      bouncers[poolMode] = await startPgBouncer({ serverUrl: db.url, users, poolMode, poolSize: 4 });
    }
  });
  afterAll(async () => {
    await bouncers.session?.stop();
    await bouncers.transaction?.stop();
    await db?.drop();
  });

  it('tells session mode and a direct connection from transaction mode', async () => {
    expect(await detectTransactionPooling(db.url)).toBe(false);
    expect(await detectTransactionPooling((bouncers.session as PgBouncer).urlFor(db.url))).toBe(false);
    expect(await detectTransactionPooling((bouncers.transaction as PgBouncer).urlFor(db.url))).toBe(true);
  });

  it('lets carebook migrate run through session mode', async () => {
    const result = await runCli(['migrate', 'verify'], {
      DATABASE_URL: (bouncers.session as PgBouncer).urlFor(db.url),
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });
});
