// A TCP proxy in front of PostgreSQL that breaks the network on demand, for the fault tests (the
// part of toxiproxy they need; toxiproxy itself has no Debian package and needs Docker here).
//   pass      forward both ways
//   refuse    new connections are reset at once; existing ones are cut
//   blackhole new connections are accepted and never answered; existing ones hang
import net from 'node:net';

export type FaultMode = 'pass' | 'refuse' | 'blackhole';

export interface FaultProxy {
  port: number;
  /** `url` with host and port replaced by the proxy's. */
  urlFor(url: string): string;
  setMode(mode: FaultMode): void;
  /** Connections currently open through the proxy. */
  open(): number;
  close(): Promise<void>;
}

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  let mode: FaultMode = 'pass';
  const pairs = new Set<{ client: net.Socket; server: net.Socket | null }>();
  const proxy = net.createServer((client) => {
    const pair: { client: net.Socket; server: net.Socket | null } = { client, server: null };
    pairs.add(pair);
    client.on('error', () => {});
    client.on('close', () => {
      pair.server?.destroy();
      pairs.delete(pair);
    });
    if (mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    if (mode === 'blackhole') return; // accepted, read, never forwarded
    const server = net.connect(target);
    pair.server = server;
    server.on('error', () => client.destroy());
    server.on('close', () => client.destroy());
    client.pipe(server);
    server.pipe(client);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const port = (proxy.address() as net.AddressInfo).port;
  return {
    port,
    urlFor: (url) => {
      const proxied = new URL(url);
      proxied.hostname = '127.0.0.1';
      proxied.port = String(port);
      return proxied.toString();
    },
    setMode: (next) => {
      mode = next;
      for (const pair of pairs) {
        if (next === 'refuse') pair.client.resetAndDestroy();
        if (next === 'blackhole' && pair.server) {
          // Stop forwarding both ways: the peers see a connection that never answers.
          pair.client.unpipe();
          pair.server.unpipe();
        }
      }
    },
    open: () => pairs.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const pair of pairs) pair.client.destroy();
        proxy.close(() => resolve());
      }),
  };
}
