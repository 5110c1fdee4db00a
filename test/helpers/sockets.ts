// Raw TCP clients for the HTTP edge tests: stalled, trickled or malformed requests that no HTTP
// library would send, and what the server answered before it closed the connection.

import net from 'node:net';
import type { FastifyInstance } from 'fastify';

export interface RawExchange {
  /** Everything the server wrote (status line, headers, body). */
  response: string;
  /** Milliseconds from connecting until the server closed the connection. */
  closedAfterMs: number;
}

/** Listens on a free port of 127.0.0.1 and returns it. */
export async function listenOnFreePort(app: FastifyInstance): Promise<number> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  return (app.server.address() as net.AddressInfo).port;
}

/**
 * Connects, writes `parts` (a number in the list is a pause in ms), then waits — sending nothing
 * more — until the server closes the connection or `giveUpMs` passes (then rejects).
 */
export function rawExchange(
  port: number,
  parts: Array<string | number>,
  options: { giveUpMs: number; localAddress?: string },
): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: options.localAddress });
    let response = '';
    let finished = false;
    const giveUp = setTimeout(() => {
      finished = true;
      socket.destroy();
      reject(
        new Error(`still open after ${options.giveUpMs} ms; received so far: ${JSON.stringify(response)}`),
      );
    }, options.giveUpMs);
    socket.on('data', (chunk) => (response += chunk.toString('utf8')));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(giveUp);
      if (!finished) resolve({ response, closedAfterMs: Date.now() - started });
    });
    socket.on('connect', async () => {
      for (const part of parts) {
        if (finished || socket.destroyed) return;
        if (typeof part === 'number') await new Promise((r) => setTimeout(r, part));
        else socket.write(part);
      }
    });
  });
}

/** The status code and the parsed body of a raw HTTP/1.1 response. */
export function parseRawResponse(raw: string): {
  status: number;
  headers: Record<string, string>;
  body: unknown;
} {
  const [head = '', body = ''] = raw.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let parsed: unknown = body;
  try {
    parsed = JSON.parse(body);
  } catch {
    // not JSON: keep the text
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: parsed };
}
