// For the queue engine's tests: a local HTTP "provider" that records every call (and answers as
// told per record), a claim–call–settle kind that calls it, and the table that kind works on (a
// stand-in for the outbox: one row per job, as the outbox will have). Used in-process and by the
// worker process of test/fixtures/queue-worker.ts.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import type { Sql } from '../../src/db/pool.js';
import {
  type CallKind,
  type KindSettings,
  PermanentError,
  QUEUE_CHANNEL,
  RetryLaterError,
} from '../../src/queue/kind.js';

export const CALLS_TABLE_SQL = `
  CREATE TABLE IF NOT EXISTS test_calls (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    behaviour text NOT NULL DEFAULT 'ok',
    status text NOT NULL DEFAULT 'pending',
    result text,
    last_error text,
    settles integer NOT NULL DEFAULT 0
  );
  GRANT SELECT, UPDATE ON test_calls TO carebook_worker, carebook_admin;`;

/** Inserts `n` records with the behaviour their provider call meets, and a due job for each. */
export async function addCalls(
  client: pg.Pool,
  kind: string,
  n: number,
  behaviour = 'ok',
): Promise<string[]> {
  const result = await client.query<{ id: string }>(
    `WITH rows AS (INSERT INTO test_calls (behaviour) SELECT $2 FROM generate_series(1, $1) RETURNING id)
     SELECT id, enqueue_queue_job($3, id) FROM rows`,
    [n, behaviour, kind],
  );
  return result.rows.map((row) => row.id);
}

export interface ProviderCall {
  ref: string;
  attempt: number;
  at: number;
  /** A `hang` call: when the client closed the connection (epoch ms). */
  abandonedAt?: number;
}

export interface FakeProvider {
  url: string;
  calls: ProviderCall[];
  close(): Promise<void>;
}

/**
 * Answers POST /call {ref, attempt, behaviour}: `ok` 200; `fail` 500; `permanent` 400; `later`
 * 429 with Retry-After: 7; `slow` 200 after 300 ms; `fail-once` 500 on the first attempt only;
 * `hang` never answers (the call's `abandonedAt` is when the client closed the connection).
 */
export async function startFakeProvider(): Promise<FakeProvider> {
  const calls: ProviderCall[] = [];
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      const { ref, attempt, behaviour } = JSON.parse(body) as {
        ref: string;
        attempt: number;
        behaviour: string;
      };
      calls.push({ ref, attempt, at: Date.now() });
      const answer = (status: number, headers: Record<string, string> = {}) => {
        response.writeHead(status, { 'content-type': 'text/plain', ...headers });
        response.end(status === 200 ? `done:${ref}:${attempt}` : `error ${status}`);
      };
      if (behaviour === 'hang') {
        const call = calls.at(-1) as ProviderCall;
        response.on('close', () => (call.abandonedAt = Date.now()));
      } else if (behaviour === 'slow') setTimeout(() => answer(200), 300);
      else if (behaviour === 'fail' || (behaviour === 'fail-once' && attempt === 1)) answer(500);
      else if (behaviour === 'permanent') answer(400);
      else if (behaviour === 'later') answer(429, { 'retry-after': '7' });
      else answer(200);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface TestCall {
  ref: string;
  behaviour: string;
}

export const TEST_SETTINGS: KindSettings = {
  batchSize: 10,
  concurrency: 1,
  leaseSeconds: 30,
  maxAttempts: 3,
  backoff: { baseSeconds: 5, capSeconds: 60 },
};

/** A claim–call–settle kind calling the fake provider for each test_calls row. */
export function testCallKind(
  providerUrl: string,
  options: {
    name?: string;
    settings?: Partial<KindSettings>;
    /** Replaces the HTTP call (a test that holds a call back). */
    call?: (item: TestCall, attempt: number, signal: AbortSignal) => Promise<string>;
  } = {},
): CallKind<TestCall, string> {
  const name = options.name ?? 'test.calls';
  return {
    name,
    mode: 'claim_call_settle',
    settings: { ...TEST_SETTINGS, ...options.settings },
    wake: { channel: QUEUE_CHANNEL, payload: name },
    async load(sql: Sql, jobs) {
      const result = await sql.query<TestCall>(
        'SELECT id AS ref, behaviour FROM test_calls WHERE id = ANY ($1)',
        [jobs.map((job) => job.ref)],
      );
      return result.rows;
    },
    async call(item, job, signal) {
      if (options.call) return options.call(item, job.attempts, signal);
      const response = await fetch(`${providerUrl}/call`, {
        method: 'POST',
        body: JSON.stringify({ ref: item.ref, attempt: job.attempts, behaviour: item.behaviour }),
        signal,
      });
      const text = await response.text();
      if (response.status === 429)
        throw new RetryLaterError('rate limited', Number(response.headers.get('retry-after')));
      if (response.status >= 400 && response.status < 500)
        throw new PermanentError(`refused: ${response.status}`);
      if (!response.ok) throw new Error(`provider answered ${response.status}`);
      return text;
    },
    async recordSuccess(sql, done) {
      await sql.query(
        `UPDATE test_calls t SET status = 'sent', result = d.result, settles = t.settles + 1
           FROM unnest($1::uuid[], $2::text[]) AS d(ref, result) WHERE t.id = d.ref`,
        [done.map((d) => d.item.ref), done.map((d) => d.result)],
      );
    },
    async recordFailure(sql, failed) {
      await sql.query(
        `UPDATE test_calls t SET status = f.status, last_error = f.error
           FROM unnest($1::uuid[], $2::text[], $3::text[]) AS f(ref, status, error) WHERE t.id = f.ref`,
        [failed.map((f) => f.ref), failed.map((f) => f.status), failed.map((f) => f.error)],
      );
    },
    async recordReplay(sql, refs) {
      await sql.query(`UPDATE test_calls SET status = 'pending', last_error = NULL WHERE id = ANY ($1)`, [
        refs,
      ]);
    },
  };
}
