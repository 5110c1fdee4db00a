// The claim–call–settle mode against the real procedures and a local HTTP provider: results
// recorded once and the job row gone; backoff, Retry-After, permanent errors, dead letters and an
// audited replay; a late worker's settle fenced off; three workers on 1,000 jobs; a rate limit the
// provider never sees exceeded; a stop that lets calls in flight settle; a call that hangs ended
// inside its lease.
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import type { CallKind, KindSettings } from '../../src/queue/kind.js';
import { replayJobs } from '../../src/queue/replay.js';
import { QueueWorker } from '../../src/queue/worker.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import {
  addCalls,
  CALLS_TABLE_SQL,
  type FakeProvider,
  startFakeProvider,
  type TestCall,
  testCallKind,
} from '../helpers/queue.js';
import { until } from '../helpers/until.js';

describe('claim–call–settle', () => {
  let db: TestDatabase;
  let provider: FakeProvider;
  const workers: QueueWorker[] = [];
  beforeAll(async () => {
    db = await createTestDatabase();
    await db.pool.query(CALLS_TABLE_SQL);
    provider = await startFakeProvider();
  });
  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.stop()));
    await provider.close();
    await db.drop();
  });
  beforeEach(async () => {
    await db.pool.query('TRUNCATE test_calls, queue_jobs, queue_rate_limits');
    provider.calls.length = 0;
  });

  const metrics = createMetrics();
  function worker(kind: CallKind<TestCall, string>, options: { id?: string; logger?: pino.Logger } = {}) {
    const created = new QueueWorker({
      pool: db.pool,
      listenUrl: db.url,
      logger: options.logger ?? createLogger('silent'),
      metrics,
      kinds: [kind],
      workerId: options.id,
      jitter: 1,
      pollMs: 20,
    });
    workers.push(created);
    return created;
  }
  const kind = (settings: Partial<KindSettings> = {}, name = 'test.calls') =>
    testCallKind(provider.url, { name, settings });
  const record = async (id: string) =>
    (
      await sql<{ status: string; result: string | null; last_error: string | null; settles: number }>(
        db.pool,
        'SELECT status, result, last_error, settles FROM test_calls WHERE id = $1',
        [id],
      )
    )[0];
  const job = async (id: string) =>
    (
      await sql<{ attempts: number; dead: boolean; locked: boolean; due_in: number }>(
        db.pool,
        `SELECT attempts, dead_at IS NOT NULL AS dead, locked_by IS NOT NULL AS locked,
              extract(epoch FROM run_at - now())::float AS due_in
         FROM queue_jobs WHERE ref = $1`,
        [id],
      )
    )[0];
  const makeDue = (id: string) => db.pool.query('UPDATE queue_jobs SET run_at = now() WHERE ref = $1', [id]);

  it('calls the provider once per job, records the result, and the job row leaves', async () => {
    const ids = await addCalls(db.pool, 'test.calls', 5);
    expect(await worker(kind()).drain()).toBe(5);
    expect(provider.calls.map((call) => call.ref).sort()).toEqual([...ids].sort());
    for (const id of ids)
      expect(await record(id)).toMatchObject({ status: 'sent', result: `done:${id}:1`, settles: 1 });
    expect(await sql(db.pool, 'SELECT count(*)::int AS n FROM queue_jobs')).toEqual([{ n: 0 }]);
  });

  it('backs off with full jitter, honours Retry-After, dead-letters past the budget or at once when permanent, and replays with an audit row', async () => {
    const [failing] = await addCalls(db.pool, 'test.calls', 1, 'fail');
    const [refused] = await addCalls(db.pool, 'test.calls', 1, 'permanent');
    const [limited] = await addCalls(db.pool, 'test.calls', 1, 'later');
    const crew = worker(kind());
    await crew.drain();
    // Jitter fixed at 1: the whole of min(cap, 5 s · 2^(attempts − 1)).
    expect(await job(failing!)).toMatchObject({ attempts: 1, dead: false, locked: false });
    expect((await job(failing!))!.due_in).toBeCloseTo(5, 0);
    expect(await record(failing!)).toMatchObject({ status: 'failed', last_error: 'provider answered 500' });
    expect(await job(refused!)).toMatchObject({ attempts: 1, dead: true });
    expect(await record(refused!)).toMatchObject({ status: 'dead_letter', last_error: 'refused: 400' });
    expect((await job(limited!))!.due_in).toBeCloseTo(7, 0);

    await makeDue(failing!);
    await crew.drain();
    expect((await job(failing!))!.due_in).toBeCloseTo(10, 0);
    await makeDue(failing!);
    await crew.drain();
    expect(await job(failing!)).toMatchObject({ attempts: 3, dead: true });
    expect(await record(failing!)).toMatchObject({ status: 'dead_letter', settles: 0 });
    await makeDue(failing!);
    expect(await crew.drain()).toBe(0); // a dead letter is never claimed

    await db.pool.query(`UPDATE test_calls SET behaviour = 'ok' WHERE id = $1`, [failing]);
    await expect(
      replayJobs(db.pool, kind(), [failing!], { reason: 'x', actor: 'test-operator' }),
    ).rejects.toThrow(/reason/);
    expect(
      await replayJobs(db.pool, kind(), [failing!, limited!], {
        reason: 'provider fixed',
        actor: 'test-operator',
      }),
    ).toEqual([failing]);
    expect(await job(failing!)).toMatchObject({ attempts: 0, dead: false });
    expect(await record(failing!)).toMatchObject({ status: 'pending' });
    await crew.drain();
    expect(await record(failing!)).toMatchObject({ status: 'sent', result: `done:${failing}:1`, settles: 1 });
    expect(
      await sql(
        db.pool,
        `SELECT actor, reason, details ->> 'kind' AS kind, details ->> 'replayed' AS n FROM audit.audit_log
          WHERE action = 'queue.replay'`,
      ),
    ).toEqual([{ actor: 'test-operator', reason: 'provider fixed', kind: 'test.calls', n: '1' }]);
  });

  it('ends a call that hangs before its lease runs out, and settles it as a failure', async () => {
    const [id] = await addCalls(db.pool, 'test.calls', 1, 'hang');
    const running = worker(kind({ leaseSeconds: 1 })).runOnce();
    await until(() => provider.calls.length === 1, 'the call reached the provider');
    const [lease] = await sql<{ ends: number }>(
      db.pool,
      'SELECT extract(epoch FROM locked_until) * 1000 AS ends FROM queue_jobs WHERE ref = $1',
      [id],
    );
    await running;
    // The provider saw the connection closed while the job was still this worker's.
    expect(provider.calls[0]?.abandonedAt).toBeLessThan(Number(lease?.ends));
    expect(await job(id!)).toMatchObject({ attempts: 1, dead: false, locked: false });
    expect(await record(id!)).toMatchObject({
      status: 'failed',
      last_error: expect.stringMatching(/timeout|abort/i),
    });
  });

  it('fences the settle: a worker whose lease ran out and whose job was claimed again changes nothing', async () => {
    const [id] = await addCalls(db.pool, 'test.calls', 1);
    let releaseLate: () => void = () => {};
    const held = new Promise<void>((resolve) => (releaseLate = resolve));
    const lines: string[] = [];
    const logger = pino(
      { level: 'warn' },
      new Writable({
        write: (chunk, _encoding, done) => {
          lines.push(String(chunk));
          done();
        },
      }),
    );
    const late = worker(
      testCallKind(provider.url, {
        settings: { leaseSeconds: 1 },
        call: async (item, attempt) => {
          await held; // the call outlives its lease (and ignores the abort)
          return `late:${item.ref}:${attempt}`;
        },
      }),
      { id: 'late-worker', logger },
    );
    const first = late.runOnce();
    await new Promise((resolve) => setTimeout(resolve, 1200));
    await worker(kind({ leaseSeconds: 1 }), { id: 'rescuer' }).runOnce();
    expect(await record(id!)).toMatchObject({ status: 'sent', result: `done:${id}:2`, settles: 1 });
    releaseLate();
    await first;
    expect(await record(id!)).toMatchObject({ status: 'sent', result: `done:${id}:2`, settles: 1 });
    expect(await sql(db.pool, 'SELECT count(*)::int AS n FROM queue_jobs')).toEqual([{ n: 0 }]);
    expect(lines.join('')).toMatch(/lease lost before the settle/);
    const counted = await metrics.queueSettled.get();
    expect(counted.values.find((v) => v.labels.outcome === 'lease_lost')?.value).toBe(1);
  });

  it('three workers on 1,000 jobs: each is called once and recorded once', async () => {
    const ids = await addCalls(db.pool, 'test.calls', 1000);
    const crew = [1, 2, 3].map((n) => worker(kind({ concurrency: 2, batchSize: 20 }), { id: `crew-${n}` }));
    for (const member of crew) member.start();
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const [left] = await sql<{ n: number }>(db.pool, 'SELECT count(*)::int AS n FROM queue_jobs');
      if (left?.n === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await Promise.all(crew.map((member) => member.stop()));
    expect(provider.calls).toHaveLength(1000);
    expect(new Set(provider.calls.map((call) => call.ref)).size).toBe(1000);
    expect(
      await sql(db.pool, `SELECT count(*)::int AS n FROM test_calls WHERE status = 'sent' AND settles = 1`),
    ).toEqual([{ n: ids.length }]);
    const by = await sql<{ n: number }>(
      db.pool,
      `SELECT count(DISTINCT shard)::int AS n FROM queue_throughput WHERE kind = 'test.calls' AND settled > 0`,
    );
    expect(by[0]!.n).toBeGreaterThan(1);
  });

  it('never lets the provider see more calls in a window than the kind allows, across workers', async () => {
    const limit = { max: 3, perSeconds: 1 };
    await addCalls(db.pool, 'test.limited', 12);
    const crew = [1, 2].map((n) =>
      worker(kind({ concurrency: 2, batchSize: 5, rateLimit: limit }, 'test.limited'), {
        id: `limited-${n}`,
      }),
    );
    for (const member of crew) member.start();
    const deadline = Date.now() + 30_000;
    while (provider.calls.length < 12 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await Promise.all(crew.map((member) => member.stop()));
    const times = provider.calls.map((call) => call.at).sort((a, b) => a - b);
    expect(times).toHaveLength(12);
    // In every window of perSeconds starting at a call, at most `max` calls.
    for (const [i, start] of times.entries()) {
      const inWindow = times.slice(i).filter((at) => at < start + limit.perSeconds * 1000);
      expect(inWindow.length).toBeLessThanOrEqual(limit.max);
    }
  });

  it('a worker paused inside its claim holds the rate-limited kind for one lease, not until it wakes', async () => {
    // The claim of a rate-limited kind locks its rate row until it commits. Worker A stops inside
    // the claim's transaction (its load never returns, as in a long GC pause or SIGSTOP); the
    // server ends that idle transaction after the lease, and worker B's claim goes through.
    const settings = { rateLimit: { max: 100, perSeconds: 1 }, leaseSeconds: 1 };
    const base = kind(settings, 'test.paused');
    let wake: () => void = () => {};
    const paused = new Promise<void>((resolve) => (wake = resolve));
    let inside: () => void = () => {};
    const claimed = new Promise<void>((resolve) => (inside = resolve));
    const frozen: CallKind<TestCall, string> = {
      ...base,
      async load(sqlOf, jobs) {
        inside();
        await paused;
        return base.load(sqlOf, jobs);
      },
    };
    await addCalls(db.pool, 'test.paused', 3);
    const stuck = worker(frozen, { id: 'paused-a' })
      .runOnce()
      .catch((error: unknown) => error);
    await claimed;
    expect(await worker(base, { id: 'paused-b' }).runOnce()).toBe(3);
    wake();
    expect(await stuck).toBeInstanceOf(Error); // its session was ended by the server
    expect(provider.calls).toHaveLength(3);
  }, 30_000);

  it('stop() lets calls in flight settle and leaves no job leased', async () => {
    const ids = await addCalls(db.pool, 'test.calls', 5, 'slow');
    const member = worker(kind({ batchSize: 5 }));
    member.start();
    while (provider.calls.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await member.stop();
    for (const id of ids) expect((await record(id))?.status).toBe('sent');
    expect(
      await sql(db.pool, 'SELECT count(*)::int AS n FROM queue_jobs WHERE locked_by IS NOT NULL'),
    ).toEqual([{ n: 0 }]);
  });
});
