// Real worker processes killed with SIGKILL (test/helpers/queue-worker-child.ts):
// - an item that kills its worker every time it is handled still reaches the dead letters after
//   the maximum attempts — in-transaction (whose claim writes nothing) and claim–call–settle — and
//   the items that shared its batches are settled, each once;
// - a claim–call–settle worker killed with calls in flight: every job is settled exactly once.
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { addCalls, CALLS_TABLE_SQL, type FakeProvider, startFakeProvider } from '../helpers/queue.js';
import { until } from '../helpers/until.js';

const MAX_ATTEMPTS = 3;

describe('queue workers that die', () => {
  let db: TestDatabase;
  let provider: FakeProvider;
  beforeAll(async () => {
    db = await createTestDatabase();
    await db.pool.query(CALLS_TABLE_SQL);
    provider = await startFakeProvider();
  });
  // Every child is killed at the end, also when a test fails before it would have.
  const children: ChildProcess[] = [];
  afterAll(async () => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await provider.close();
    await db.drop();
  });

  function child(env: Record<string, string>): {
    process: ChildProcess;
    exit: Promise<NodeJS.Signals | null>;
  } {
    const spawned = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/queue-worker-child.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        DATABASE_URL: db.serviceUrl,
        PROVIDER_URL: provider.url,
        QUEUE_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
        ...env,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(spawned);
    return {
      process: spawned,
      exit: new Promise((resolve) => spawned.on('exit', (_code, signal) => resolve(signal))),
    };
  }

  const count = async (query: string) => (await sql<{ n: number }>(db.pool, query))[0]?.n ?? 0;

  /** Starts workers one after another while they die; returns how many died, and stops the survivor. */
  async function workUntil(env: Record<string, string>, settled: () => Promise<boolean>): Promise<number> {
    let deaths = 0;
    for (;;) {
      const worker = child(env);
      const outcome = await Promise.race([
        worker.exit.then((signal) => ({ died: signal === 'SIGKILL' })),
        until(settled, 'every job settled', 60).then(() => ({ died: false })),
      ]);
      if (!outcome.died) {
        worker.process.kill('SIGTERM');
        await worker.exit;
        return deaths;
      }
      deaths += 1;
      expect(deaths).toBeLessThanOrEqual(MAX_ATTEMPTS);
    }
  }

  it('in-transaction: a poison event reaches dead_letter after the maximum attempts; its batch-mates succeed once', async () => {
    await db.pool.query(
      `INSERT INTO webhook_requests (id, webhook_id, raw_body, request_url)
       VALUES ('00000000-0000-4000-8000-0000000000c1', '00000000-0000-4000-8000-000000000001', '\\x7b7d', 'https://x')`,
    );
    // The poison sits in the middle of the first batch, so events before and after it share it.
    await db.pool.query(
      `INSERT INTO webhook_events (webhook_id, provider, event_id, event_type, payload, request_id, received_at)
       SELECT '00000000-0000-4000-8000-000000000001', 'stripe', 'evt_crash_' || n,
              CASE WHEN n = 5 THEN 'test.poison' ELSE 'customer.updated' END, '{}',
              '00000000-0000-4000-8000-0000000000c1', now() - interval '1 hour' + n * interval '1 second'
         FROM generate_series(1, 30) n`,
    );
    const deaths = await workUntil(
      { QUEUE_MODE: 'in_transaction', QUEUE_BATCH: '10' },
      async () =>
        (await count(
          `SELECT count(*)::int AS n FROM webhook_events WHERE status IN ('pending', 'failed')`,
        )) === 0,
    );
    expect(deaths).toBe(MAX_ATTEMPTS);
    expect(
      await sql(
        db.pool,
        `SELECT status, attempts, error FROM webhook_events WHERE event_type = 'test.poison'`,
      ),
    ).toEqual([
      {
        status: 'dead_letter',
        attempts: MAX_ATTEMPTS,
        error: expect.stringContaining('its batch did not commit'),
      },
    ]);
    const others = await sql<{ status: string; attempts: number; n: number }>(
      db.pool,
      `SELECT status, attempts, count(*)::int AS n FROM webhook_events WHERE event_type <> 'test.poison'
        GROUP BY status, attempts ORDER BY attempts`,
    );
    // The 9 batch-mates of the first crash: counted once for it, then settled alone; the rest: once.
    expect(others).toEqual([
      { status: 'success', attempts: 1, n: 20 },
      { status: 'success', attempts: 2, n: 9 },
    ]);
    expect(await count('SELECT count(*)::int AS n FROM queue_batches')).toBe(0);
  });

  it('claim–call–settle: a poison job is buried after the maximum attempts; every other job is recorded once', async () => {
    const ids = await addCalls(db.pool, 'test.calls', 9);
    const [poison] = await addCalls(db.pool, 'test.calls', 1, 'poison');
    const deaths = await workUntil(
      // A lease of 2 s: long enough for a call and its settle on a loaded machine (a batch-mate
      // whose lease runs out during its call is claimed again, and that counts an attempt).
      { QUEUE_MODE: 'claim_call_settle', QUEUE_BATCH: '10', QUEUE_LEASE: '2' },
      async () => (await count(`SELECT count(*)::int AS n FROM queue_jobs WHERE dead_at IS NULL`)) === 0,
    );
    expect(deaths).toBe(MAX_ATTEMPTS);
    expect(
      await sql(db.pool, 'SELECT status, settles, last_error FROM test_calls WHERE id = $1', [poison]),
    ).toEqual([
      {
        status: 'dead_letter',
        settles: 0,
        last_error: `its lease ran out on each of its ${MAX_ATTEMPTS} attempts`,
      },
    ]);
    // Its batch-mates lost their calls to the first crash, then were claimed one at a time.
    expect(
      await sql(
        db.pool,
        `SELECT t.status, t.settles, count(*)::int AS n FROM test_calls t WHERE t.id = ANY ($1) GROUP BY 1, 2`,
        [ids],
      ),
    ).toEqual([{ status: 'sent', settles: 1, n: ids.length }]);
    await db.pool.query('TRUNCATE test_calls, queue_jobs');
  });

  it('claim–call–settle: a worker killed with calls in flight; every job is settled exactly once', async () => {
    const ids = await addCalls(db.pool, 'test.calls', 200, 'slow');
    provider.calls.length = 0;
    const env = {
      QUEUE_MODE: 'claim_call_settle',
      QUEUE_BATCH: '10',
      QUEUE_CONCURRENCY: '2',
      // Jobs wait in the worker's local queue before their call; 4 s covers that on a loaded machine.
      QUEUE_LEASE: '4',
    };
    const first = child(env);
    await until(
      async () =>
        (await count(`SELECT count(*)::int AS n FROM test_calls WHERE status = 'sent'`)) >= 40 &&
        (await count('SELECT count(*)::int AS n FROM queue_jobs WHERE locked_by IS NOT NULL')) > 0,
      'forty calls sent and some in flight',
      60,
    );
    first.process.kill('SIGKILL');
    expect(await first.exit).toBe('SIGKILL');
    const inFlight = await count('SELECT count(*)::int AS n FROM queue_jobs WHERE locked_by IS NOT NULL');
    expect(inFlight).toBeGreaterThan(0);

    const second = child(env);
    await until(
      async () => (await count('SELECT count(*)::int AS n FROM queue_jobs')) === 0,
      'no job left',
      120,
    );
    second.process.kill('SIGTERM');
    await second.exit;
    expect(
      await count(`SELECT count(*)::int AS n FROM test_calls WHERE status = 'sent' AND settles = 1`),
    ).toBe(ids.length);
    // At least once at the provider: only the calls cut off by the kill were made twice.
    const repeated = provider.calls.length - new Set(provider.calls.map((call) => call.ref)).size;
    expect(new Set(provider.calls.map((call) => call.ref)).size).toBe(ids.length);
    expect(repeated).toBeLessThanOrEqual(inFlight);
  });
});
