// Parts 1 and 2 of npm run bench:webhooks: which configurations each side runs, in which order,
// and how graphile-worker's best settings are found (tried at the part's highest concurrency, the
// fastest then used at every concurrency). Both sides of a part get the same database, payload,
// connection budget (a pool of POOL_MAX, opened before the clock) and concurrency.
import type pg from 'pg';
import { CALLS_TABLE_SQL, drainCarebookCalls } from './call-drain.js';
import { callPayloadSql, postCall, startCallEndpoint } from './call-endpoint.js';
import type { DrainResult } from './drain.js';
import type { CarebookRow, DrainReport, GraphileSeries, GraphileTrial } from './drain-report.js';
import {
  clearGraphileJobs,
  drainGraphile,
  type GraphileDrainOptions,
  type GraphileSettings,
  graphileLabel,
} from './graphile-drain.js';
import {
  drainCarebook,
  EVENT_ID_PREFIX,
  eventPayloadSql,
  IN_TRANSACTION_VARIANTS,
  type InTransactionVariant,
} from './webhook-drain.js';

export interface DrainSettings {
  admin: pg.Pool;
  url: string;
  capMs: number;
  problems: string[];
  progress: (line: string) => void;
}

/** Connections each drainer may use: graphile-worker's default pool size. */
const POOL_MAX = 10;

const IN_TRANSACTION_LOOPS = [2, 4] as const;
const IN_TRANSACTION_BATCHES = [100, 250, 500, 1000] as const;
const VARIANT_LABELS = { handler: 'no-op handler', ignored: 'ignored type' } as const;
/**
 * A local queue of concurrency + 1 (its docs' starting point) up to 500 (the size of its own
 * published performance run) and 1,000 (Carebook's largest batch), completions batched
 * immediately (0 ms, as in that run) and, at the two largest queues, over 10 ms.
 */
const graphileTrials = (concurrency: number): GraphileSettings[] => [
  ...[concurrency + 1, 50, 200, 500, 1000].map((localQueueSize) => ({
    localQueueSize,
    completeJobBatchDelay: 0,
    failJobBatchDelay: 0,
  })),
  ...[500, 1000].map((localQueueSize) => ({
    localQueueSize,
    completeJobBatchDelay: 10,
    failJobBatchDelay: 10,
  })),
];

/**
 * Carebook's loops × claimed batch × calls in flight per loop, for 10 and 20 calls in flight: a
 * batch the size of its calls in flight, and larger batches that amortise their claim and settle
 * (as graphile-worker's local queue does).
 */
const CALL_RUNS = [
  { loops: 1, batch: 10, inFlight: 10 },
  { loops: 1, batch: 100, inFlight: 10 },
  { loops: 2, batch: 50, inFlight: 5 },
  { loops: 2, batch: 10, inFlight: 10 },
  { loops: 1, batch: 200, inFlight: 20 },
  { loops: 2, batch: 100, inFlight: 10 },
] as const;
const CALL_CONCURRENCY = [10, 20] as const;

function collect(s: DrainSettings, where: string, result: DrainResult): DrainResult {
  for (const problem of result.problems) s.problems.push(`${where}: ${problem}`);
  return result;
}

type GraphileTask = Pick<
  GraphileDrainOptions,
  'jobs' | 'payloadSql' | 'task' | 'runs' | 'helperCpuMs' | 'prepare'
>;

async function graphileSeries(s: DrainSettings, concurrencies: readonly number[], task: GraphileTask) {
  const drain = (concurrency: number, settings: GraphileSettings) => {
    const label = `graphile-worker, concurrency ${concurrency}, ${graphileLabel(settings)}`;
    s.progress(`${label}: ${task.jobs} jobs`);
    const options = { ...task, admin: s.admin, databaseUrl: s.url, capMs: s.capMs, poolMax: POOL_MAX };
    return drainGraphile({ ...options, concurrency, settings }).then((result) => collect(s, label, result));
  };
  const top = Math.max(...concurrencies);
  const trials: GraphileTrial[] = [];
  for (const settings of graphileTrials(top)) trials.push({ settings, result: await drain(top, settings) });
  const best = trials.reduce((a, b) => (b.result.rate > a.result.rate ? b : a));
  const at = new Map<number, DrainResult>([[top, best.result]]);
  for (const concurrency of concurrencies) {
    if (!at.has(concurrency)) at.set(concurrency, await drain(concurrency, best.settings));
  }
  return { trialConcurrency: top, trials, best, at } satisfies GraphileSeries;
}

/** Part 1: N no-op events (Carebook, both variants) against N no-op jobs (graphile-worker). */
export async function inTransactionPart(s: DrainSettings, events: number): Promise<DrainReport> {
  const runs = new Int32Array(events + 1);
  const graphile = await graphileSeries(s, IN_TRANSACTION_LOOPS, {
    jobs: events,
    payloadSql: eventPayloadSql,
    runs,
    task: async (payload) => {
      const id = String((payload as { id?: unknown }).id ?? '');
      const n = id.startsWith(EVENT_ID_PREFIX) ? Number(id.slice(EVENT_ID_PREFIX.length)) : 0;
      const job = n >= 1 && n <= events ? n : 0;
      runs[job] = (runs[job] ?? 0) + 1;
    },
  });
  const carebook: CarebookRow[] = [];
  const drain = async (variant: InTransactionVariant, loops: number, batch: number, instances: number) => {
    const label = `Carebook ${VARIANT_LABELS[variant]}, ${instances} × ${loops} loops, batch ${batch}`;
    s.progress(`${label}: ${events} events`);
    const result = await drainCarebook({
      admin: s.admin,
      databaseUrl: s.url,
      events,
      variant,
      concurrency: loops,
      batchSize: batch,
      instances,
      poolMax: POOL_MAX,
      capMs: s.capMs,
    });
    carebook.push({
      label,
      at: loops * instances,
      headline: variant === 'handler',
      result: collect(s, label, result),
    });
    return result;
  };
  for (const variant of IN_TRANSACTION_VARIANTS) {
    // One instance at each loop count and batch, then two instances at the batch that was fastest.
    let best: { batch: number; rate: number } = { batch: IN_TRANSACTION_BATCHES[0], rate: -1 };
    for (const loops of IN_TRANSACTION_LOOPS) {
      for (const batch of IN_TRANSACTION_BATCHES) {
        const { rate } = await drain(variant, loops, batch, 1);
        if (rate > best.rate) best = { batch, rate };
      }
    }
    await drain(variant, 2, best.batch, 2);
  }
  await s.admin.query('TRUNCATE webhook_events, webhook_requests, queue_throughput');
  await clearGraphileJobs(s.admin);
  return {
    description:
      `1. In-transaction drain: N pending no-op items, same payload (a ~200-byte Stripe event) and database, ` +
      `each side with a pool of ${POOL_MAX} connections opened before the clock starts, tables vacuumed, ` +
      `analysed and checkpointed after loading; clock from the first claim to the last commit (a run stops ` +
      `at ${s.capMs / 1000} s: "(cap)"). Carebook: QueueWorker's loops over the webhooks kind, each event ` +
      'claimed (FOR UPDATE SKIP LOCKED, payload fetched) and settled success after one attempt in its ' +
      "batch's transaction. No-op handler (the headline): a handler that runs no SQL returns a note, the " +
      'batch is recorded on a second connection first. Ignored type: no handler, no batch record. ' +
      'graphile-worker: run() in its batched configuration, a no-op task, every job run once, then deleted ' +
      'by a batched completion (a transaction of its own, after the task).',
    concurrency: 'loops',
    carebook,
    graphile,
    target: 1.5,
    goal: 2,
    helper: false,
  };
}

/** Part 2: N records called through Carebook's claim–call–settle against graphile-worker's task. */
export async function callPart(s: DrainSettings, jobs: number): Promise<DrainReport> {
  await s.admin.query(CALLS_TABLE_SQL);
  const endpoint = await startCallEndpoint(jobs);
  try {
    const graphile = await graphileSeries(s, CALL_CONCURRENCY, {
      jobs,
      payloadSql: callPayloadSql,
      runs: endpoint.calls,
      helperCpuMs: endpoint.cpuMs,
      prepare: () => endpoint.warm(Math.max(...CALL_CONCURRENCY)),
      // Without helpers.abortSignal: it lives as long as run(), and fetch keeps an abort listener on
      // it for every request until the request is garbage-collected (undici's FinalizationRegistry),
      // thousands of them — a cost of the harness, not of graphile-worker. Carebook's engine passes a
      // signal that lives one batch.
      task: async (payload) => {
        await postCall(endpoint.url, payload);
      },
    });
    const carebook: CarebookRow[] = [];
    for (const { loops, batch, inFlight } of CALL_RUNS) {
      const label = `Carebook, ${loops} loop${loops > 1 ? 's' : ''} × batch ${batch}, ${inFlight} in flight each`;
      s.progress(`${label}: ${jobs} calls`);
      const result = await drainCarebookCalls({
        admin: s.admin,
        databaseUrl: s.url,
        jobs,
        concurrency: loops,
        batchSize: batch,
        inFlight,
        poolMax: POOL_MAX,
        capMs: s.capMs,
        endpoint,
      });
      carebook.push({ label, at: loops * inFlight, headline: true, result: collect(s, label, result) });
    }
    await s.admin.query('TRUNCATE bench_calls, queue_jobs, queue_throughput');
    await clearGraphileJobs(s.admin);
    return {
      description:
        `2. Claim–call–settle drain: N records, each POSTed once (its ~200-byte JSON payload, fetch with ` +
        `keep-alive) to a local endpoint in a worker thread that answers 200 at once; same database, pool of ` +
        `${POOL_MAX} each, same calls in flight. Carebook: QueueWorker's loops with a CallKind over a wide ` +
        'record table (bench_calls): lease the jobs (queue_jobs) and load the payloads, commit, call with no ' +
        'transaction open, then settle fenced by the lease: delete the jobs and mark the records sent in one ' +
        'batched UPDATE. In flight: up to loops × batch (a loop has calls in flight between its claim and its ' +
        "settle). graphile-worker: run() with a task that makes the same call with its job's payload (and " +
        "records nothing). Node CPU is the drainer's; the endpoint thread's is a column of its own.",
      concurrency: 'in flight',
      carebook,
      graphile,
      target: 1,
      goal: null,
      helper: true,
    };
  } finally {
    await endpoint.close();
  }
}
