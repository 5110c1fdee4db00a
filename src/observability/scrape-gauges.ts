// Gauges whose values come from one database read at scrape time: the gauges of a group share the
// read of the scrape in progress (the next scrape reads afresh), and a failed read leaves them
// absent (not 0) while the rest of /metrics still answers.
import client from 'prom-client';

export type GaugeFactory<S> = <L extends string>(
  name: string,
  help: string,
  labelNames: readonly L[],
  pick: (stats: S[]) => Array<[Record<L, string>, number]>,
) => client.Gauge<L>;

export function scrapeGauges<S>(registry: client.Registry, read: () => Promise<S[]>): GaugeFactory<S> {
  let pending: Promise<S[]> | null = null;
  const stats = () => {
    if (!pending) {
      const reading = read().catch((): S[] => []);
      pending = reading;
      void reading.then(() => setTimeout(() => (pending = null), 0));
    }
    return pending;
  };
  return (name, help, labelNames, pick) =>
    new client.Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        this.reset();
        for (const [labels, value] of pick(await stats())) this.set(labels as never, value);
      },
    });
}
