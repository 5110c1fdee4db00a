// A minimal Chrome DevTools Protocol client for a Node process started with --inspect: the soak
// reads the real `carebook serve` process's heap after a forced GC without any code of ours in it
// (no --expose-gc, no debug route). The protocol is JSON over a WebSocket (undici's).
import { WebSocket } from 'undici';

export interface Inspector {
  /** Full GC (twice: weak references freed by the first are collected by the second), then used heap. */
  heapUsedAfterGc(): Promise<number>;
  /** Evaluates `expression` in the process's main context; resolves with its JSON value. */
  evaluate<T>(expression: string): Promise<T>;
  close(): void;
}

/** Resolves with the ws:// URL a child printed on stderr ("Debugger listening on ws://…"). */
export function inspectorUrl(stderr: NodeJS.ReadableStream, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no inspector URL in: ${seen}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString('utf8');
      const match = seen.match(/Debugger listening on (ws:\/\/\S+)/);
      if (match) {
        clearTimeout(timer);
        stderr.off('data', onData);
        resolve(match[1] as string);
      }
    };
    stderr.on('data', onData);
  });
}

export async function connectInspector(url: string): Promise<Inspector> {
  const socket = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener('open', () => resolve(), { once: true });
    socket.addEventListener('error', () => reject(new Error(`cannot connect to the inspector at ${url}`)), {
      once: true,
    });
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as {
      id?: number;
      result?: unknown;
      error?: { message: string };
    };
    if (message.id === undefined) return; // an event: none is subscribed to
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.error) waiter?.reject(new Error(message.error.message));
    else waiter?.resolve(message.result);
  });
  const send = <T>(method: string, params: Record<string, unknown> = {}): Promise<T> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      socket.send(JSON.stringify({ id, method, params }));
    });
  return {
    heapUsedAfterGc: async () => {
      await send('HeapProfiler.collectGarbage');
      await send('HeapProfiler.collectGarbage');
      return (await send<{ usedSize: number }>('Runtime.getHeapUsage')).usedSize;
    },
    evaluate: async <T>(expression: string) => {
      const result = await send<{ result: { value: T }; exceptionDetails?: { text: string } }>(
        'Runtime.evaluate',
        {
          expression,
          returnByValue: true,
        },
      );
      if (result.exceptionDetails) throw new Error(`evaluate failed: ${result.exceptionDetails.text}`);
      return result.result.value;
    },
    close: () => socket.close(),
  };
}
