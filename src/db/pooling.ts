// Is DATABASE_URL behind a transaction pooler (PgBouncer pool_mode = transaction or statement)?
// Such a pooler gives each transaction whichever server connection is free, so session state —
// named prepared statements, LISTEN, session advisory locks — does not survive from one
// transaction to the next. The service then runs without named statements and polls instead of
// listening; `carebook migrate` refuses (its locks are session advisory locks).
//
// Detection: with a direct connection (or session pooling) a client keeps one backend for its
// whole life, and two clients never share one. Client A runs a statement and lets go; client B
// opens a transaction (a transaction pooler reuses the server A just released: PgBouncer's default
// is last-in first-out) and holds it; A runs again. If B got A's backend, or A now has another
// one, connections are being shared per transaction. A positive answer is certain; a negative one
// after several rounds is what a direct connection always gives. CAREBOOK_DATABASE_POOLING
// overrides the guess.
import pg from 'pg';
import type { PoolingMode } from '../config.js';

const ROUNDS = 3;

async function backendPid(client: pg.Client): Promise<number> {
  const result = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return Number(result.rows[0]?.pid);
}

/** True when connections to `url` are shared between clients per transaction. */
export async function detectTransactionPooling(url: string): Promise<boolean> {
  const a = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  const b = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  a.on('error', () => {});
  b.on('error', () => {});
  try {
    await a.connect();
    await b.connect();
    for (let round = 0; round < ROUNDS; round++) {
      const before = await backendPid(a);
      await b.query('BEGIN');
      const held = await backendPid(b);
      const after = await backendPid(a);
      await b.query('COMMIT');
      if (held === before || after !== before) return true;
    }
    return false;
  } finally {
    await Promise.all([a.end().catch(() => {}), b.end().catch(() => {})]);
  }
}

/** The configured mode, or (auto) the detected one. */
export async function resolvePooling(mode: PoolingMode, url: string): Promise<'session' | 'transaction'> {
  if (mode !== 'auto') return mode;
  return (await detectTransactionPooling(url)) ? 'transaction' : 'session';
}
