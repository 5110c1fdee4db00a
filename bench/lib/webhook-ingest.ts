// The ingestion half of the webhook benchmark: closed loops of clients POSTing signed Stripe
// events, each with a fresh id, to a server's /webhooks/stripe. An answer counts as a success only
// when it is 200 and says the event was stored (received: 1); anything else is an error. Event ids
// carry a per-run prefix so the rows each run stored can be counted afterwards ("nothing lost").
import type pg from 'pg';
import { Agent, request } from 'undici';
import { type LoopResult, runClosedLoop } from './closed-loop.js';
import { type CpuSpent, cpuSince, localBackends, readCpu } from './cpu.js';
import { signedStripeEvent } from './stripe-events.js';

export interface IngestRunOptions {
  url: string;
  secret: string;
  clients: number;
  warmupMs: number;
  durationMs: number;
  /** Event ids are `evt_<prefix>_<n>`; a prefix per run. */
  prefix: string;
  /** For the CPU of the server's PostgreSQL backends: its pool's application_name. */
  admin: pg.Pool;
  databaseUrl: string;
  applicationName: string;
}

export interface IngestRun {
  result: LoopResult;
  /** Events the server said it stored, warm-up included. */
  stored: number;
  errors: number;
  errorSamples: string[];
  /** CPU spent during the measurement (after the warm-up). */
  cpu: CpuSpent;
}

export async function runIngest(options: IngestRunOptions): Promise<IngestRun> {
  const agent = new Agent({ connections: options.clients, pipelining: 1 });
  let next = 0;
  const task = async (): Promise<boolean> => {
    const delivery = signedStripeEvent(`evt_${options.prefix}_${next++}`, options.secret);
    const response = await request(`${options.url}/webhooks/stripe`, {
      method: 'POST',
      dispatcher: agent,
      headers: delivery.headers,
      body: delivery.body,
    });
    const text = await response.body.text();
    if (response.statusCode !== 200) throw new Error(`HTTP ${response.statusCode}: ${text.slice(0, 200)}`);
    if ((JSON.parse(text) as { received?: unknown }).received !== 1) throw new Error(`not stored: ${text}`);
    return true;
  };
  try {
    // The warm-up opens the connections and warms both ends; it runs on the same agent.
    const warm = await runClosedLoop({ concurrency: options.clients, durationMs: options.warmupMs, task });
    // The server's pool has opened its connections during the warm-up.
    const backends = await localBackends(options.admin, options.databaseUrl, [options.applicationName]);
    const start = readCpu(backends);
    const result = await runClosedLoop({
      concurrency: options.clients,
      durationMs: options.durationMs,
      task,
    });
    const cpu = cpuSince(start);
    return {
      result,
      cpu,
      stored: warm.ok + result.ok,
      errors: warm.errors + result.errors,
      errorSamples: [...warm.errorSamples, ...result.errorSamples].slice(0, 5),
    };
  } finally {
    await agent.close();
  }
}

/** Rows stored per run prefix (event ids `evt_<prefix>_<n>`). */
export async function storedByPrefix(admin: pg.Pool): Promise<Map<string, number>> {
  const { rows } = await admin.query<{ prefix: string; n: number }>(
    `SELECT substring(event_id FROM '^evt_(.*)_[0-9]+$') AS prefix, count(*)::int AS n
       FROM webhook_events GROUP BY 1`,
  );
  return new Map(rows.map((row) => [row.prefix ?? '', row.n]));
}
