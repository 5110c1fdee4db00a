// How a queue loop waits: for a NOTIFY on its kind's channel, or a timeout (polling). One LISTEN
// connection serves every kind of a process; when it fails, it reconnects later and polling covers
// the gap. Behind a transaction pooler there is no LISTEN at all (listenUrl null): polling only.
import pg from 'pg';
import type { Logger } from 'pino';
import type { Wake } from './kind.js';

/** A wake-up that a loop can wait on; wake() releases every current waiter. */
export class Wakeup {
  private release: () => void = () => {};
  private signal: Promise<void> = this.next();

  private next(): Promise<void> {
    return new Promise((resolve) => {
      this.release = () => {
        this.signal = this.next();
        resolve();
      };
    });
  }

  wake(): void {
    this.release();
  }

  /** Resolves on wake() or after `ms`. */
  wait(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      this.signal,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
    ]).finally(() => clearTimeout(timer));
  }
}

export class Listener {
  private client: pg.Client | null = null;
  private stopped = false;
  private readonly pause = new Wakeup();
  private running: Promise<void> | null = null;

  constructor(
    private readonly url: string,
    private readonly targets: ReadonlyArray<{ wake: Wake; wakeup: Wakeup }>,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.running = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.pause.wake();
    await this.client?.end().catch(() => {});
    await this.running;
  }

  private dispatch(channel: string, payload: string | undefined): void {
    for (const { wake, wakeup } of this.targets) {
      if (wake.channel === channel && (wake.payload === undefined || wake.payload === payload)) wakeup.wake();
    }
  }

  private async run(): Promise<void> {
    const channels = [...new Set(this.targets.map((target) => target.wake.channel))];
    while (!this.stopped) {
      const client = new pg.Client({
        connectionString: this.url,
        application_name: 'carebook-worker-listen',
      });
      const closed = new Promise<void>((resolve) => {
        client.on('error', () => resolve());
        client.on('end', () => resolve());
      });
      try {
        await client.connect();
        client.on('notification', (message) => this.dispatch(message.channel, message.payload));
        // Channel names are the kinds' own constants, never input.
        for (const channel of channels) await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
        this.client = client;
        if (this.stopped) await client.end();
        await closed;
      } catch (error) {
        this.logger.warn({ err: error }, 'queue LISTEN connection failed; polling until it is back');
        await client.end().catch(() => {});
      }
      this.client = null;
      if (this.stopped) break;
      // Anything notified while the connection was down is found by the loops' polling.
      for (const { wakeup } of this.targets) wakeup.wake();
      await this.pause.wait(5000);
    }
  }
}
