// A closed-loop load driver: `concurrency` loops, each sending its next request as soon as the
// previous one answered, for a fixed time. Closed loops measure the throughput a fixed number of
// clients can get, which is what "N concurrent clients" means in the targets; they cannot
// overload the system, so latencies stay comparable between the API and the direct baseline.
import { LatencyRecorder } from './latency.js';

export interface LoopOptions {
  concurrency: number;
  durationMs: number;
  /**
   * One unit of work by loop `client`. Resolves true on success, false on a wrong answer (counted
   * as an error); a throw is an error too. Resolves null when there is no more work to hand out
   * (the loop stops early; `exhausted` is then set).
   */
  task: (client: number) => Promise<boolean | null>;
}

export interface LoopResult {
  ok: number;
  errors: number;
  /** The first few error messages, for the report. */
  errorSamples: string[];
  elapsedMs: number;
  /** Successful operations per second over the elapsed time. */
  rate: number;
  latency: LatencyRecorder;
  exhausted: boolean;
}

export async function runClosedLoop(options: LoopOptions): Promise<LoopResult> {
  const latency = new LatencyRecorder();
  const errorSamples: string[] = [];
  let ok = 0;
  let errors = 0;
  let exhausted = false;
  const started = process.hrtime.bigint();
  const deadline = started + BigInt(Math.round(options.durationMs * 1e6));

  const loop = async (client: number): Promise<void> => {
    while (!exhausted && process.hrtime.bigint() < deadline) {
      const sent = process.hrtime.bigint();
      let outcome: boolean | null;
      try {
        outcome = await options.task(client);
      } catch (error) {
        outcome = false;
        if (errorSamples.length < 5)
          errorSamples.push(error instanceof Error ? error.message : String(error));
      }
      if (outcome === null) {
        exhausted = true;
        return;
      }
      // Only successes count towards latency: a fast failure must not flatter the percentiles.
      if (outcome) {
        latency.since(sent);
        ok += 1;
      } else {
        errors += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, (_, client) => loop(client)));
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  return { ok, errors, errorSamples, elapsedMs, rate: (ok * 1000) / elapsedMs, latency, exhausted };
}
