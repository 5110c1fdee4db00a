// Listens, and stops gracefully: stop accepting, let in-flight requests finish, then close.
import type { FastifyInstance } from 'fastify';

export interface Listening {
  url: string;
  close(): Promise<void>;
}

export async function listen(app: FastifyInstance, host: string, port: number): Promise<Listening> {
  await app.listen({ host, port });
  const address = app.server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${actualPort}`,
    close: () => {
      closing ??= app.close();
      return closing;
    },
  };
}
