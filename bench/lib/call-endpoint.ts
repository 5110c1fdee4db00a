// The provider of the claim–call–settle drain: a bare node:http server that answers at once, in a
// worker thread (bench/lib/app-worker.ts's machinery) so that its work is not queued on the
// drainers' event loop. POST /call reads the JSON body's `id` (`call_<n>`), counts the call for
// job n in a counter array shared with the main thread (index 0: calls naming no job) and answers
// 200 `done:<id>`. GET /cpu answers the thread's own CPU time (Linux's /proc/thread-self), so a
// drain's Node CPU can be split into the drainer's and the endpoint's; anything else answers 204
// (the warm-up that opens the client's keep-alive sockets).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isMainThread, workerData } from 'node:worker_threads';
import { type AppWorker, serveFromThread, startServerThread } from './app-worker.js';

const WORKER_KIND = 'bench-call-endpoint';
export const CALL_ID_PREFIX = 'call_';
// USER_HZ is 100 on every Linux we run on (as bench/lib/cpu.ts).
const TICK_MS = 10;

export interface CallEndpoint {
  url: string;
  /** Calls per job number (1…jobs); index 0 counts calls that named no job. */
  calls: Int32Array;
  /** The endpoint thread's CPU time so far, in ms (0 where /proc/thread-self cannot be read). */
  cpuMs(): Promise<number>;
  /** Opens `connections` keep-alive sockets of fetch's global dispatcher to the endpoint. */
  warm(connections: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * The payload of call number `i`: about 200 bytes, shaped like an outbound message request, the
 * same JSON for both sides (Carebook's record, graphile-worker's job).
 */
export const callPayloadSql = (i: string) => `jsonb_build_object('id', '${CALL_ID_PREFIX}' || ${i},
  'kind', 'appointment.confirmation', 'channel', 'sms', 'to', '+1555' || lpad(${i}::text, 7, '0'),
  'template', 'booking_confirmed', 'locale', 'en-US',
  'variables', jsonb_build_object('clinic', 'Bench Clinic', 'starts_at', '2027-01-04T09:30:00Z',
                                  'practitioner', 'Dr Bench'))`;

/**
 * The call both sides make: POST the payload as JSON over fetch's global dispatcher (keep-alive
 * sockets, one request each at a time); resolves to the answer's text, throws on any other status.
 */
export async function postCall(url: string, payload: unknown, signal?: AbortSignal): Promise<string> {
  const response = await fetch(`${url}/call`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(payload),
    signal,
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`the endpoint answered ${response.status}: ${text}`);
  return text;
}

export async function startCallEndpoint(jobs: number): Promise<CallEndpoint> {
  const counters = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT * (jobs + 1));
  const thread = await startServerThread(import.meta.url, { kind: WORKER_KIND, counters }, 'call endpoint');
  const { url } = thread;
  return {
    url,
    calls: new Int32Array(counters),
    cpuMs: async () => Number(await (await fetch(`${url}/cpu`)).text()),
    warm: async (connections) => {
      await Promise.all(
        Array.from({ length: connections }, () => fetch(`${url}/warm`).then((r) => r.arrayBuffer())),
      );
    },
    close: () => thread.close(),
  };
}

function threadCpuMs(): number {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return 0;
  }
}

/** The `id` of a call's JSON body; '' when the body is not JSON (a call that names no job). */
function callId(body: string): string {
  try {
    return String((JSON.parse(body) as { id?: unknown }).id ?? '');
  } catch {
    return '';
  }
}

async function serveCalls(counters: SharedArrayBuffer): Promise<AppWorker> {
  const calls = new Int32Array(counters);
  const server = createServer((request, response) => {
    if (request.method !== 'POST') {
      response
        .writeHead(request.url === '/cpu' ? 200 : 204)
        .end(request.url === '/cpu' ? String(threadCpuMs()) : '');
      return;
    }
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const id = callId(Buffer.concat(chunks).toString('utf8'));
      const n = id.startsWith(CALL_ID_PREFIX) ? Number(id.slice(CALL_ID_PREFIX.length)) : 0;
      const known = Number.isInteger(n) && n >= 1 && n < calls.length;
      Atomics.add(calls, known ? n : 0, 1);
      response.writeHead(known ? 200 : 400, { 'content-type': 'text/plain' });
      response.end(known ? `done:${id}` : 'no such call');
    });
  });
  // Longer than any pause between the warm-up and a run, so no socket is reopened inside a clock.
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

if (!isMainThread && (workerData as { kind?: string } | null)?.kind === WORKER_KIND) {
  await serveFromThread(() => serveCalls((workerData as { counters: SharedArrayBuffer }).counters));
}
