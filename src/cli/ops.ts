// carebook status — what an operator looks at first: migrations, the queues (webhook events by
// provider, other kinds by state; dead letters; batches that did not commit and leases past their
// end, both recovered automatically), holds that should have expired. Read-only.
// carebook sweep — expires lapsed holds and purges old idempotency records once, now.
import { sweep } from '../booking/service.js';
import { loadConfig } from '../config.js';
import { openDatabase } from '../db/database.js';
import { migrationStatus } from '../db/migrate/runner.js';
import { createPool } from '../db/pool.js';
import { withTenant } from '../db/tenant.js';
import { createMetrics } from '../observability/metrics.js';
import { queueStats, workerContext } from '../queue/store.js';
import { WEBHOOK_KIND } from '../webhooks/queue-kind.js';
import { command, parse } from './command.js';

async function withDatabase<T>(
  fn: (pool: ReturnType<typeof createPool>, url: string) => Promise<T>,
): Promise<T> {
  const database = await openDatabase(loadConfig());
  const pool = createPool(database.url, { max: 2 });
  try {
    return await fn(pool, database.url);
  } finally {
    await pool.end();
    await database.close();
  }
}

export async function runStatus(args: string[]): Promise<number> {
  const { options } = parse<{ json?: boolean }>(
    command('status', 'what an operator looks at first (read-only)').option(
      '--json',
      'print the report as JSON',
    ),
    args,
  );
  return withDatabase(async (pool, url) => {
    const migrations = await migrationStatus({ databaseUrl: url });
    const stats = await queueStats(pool);
    const [leases, holds] = await withTenant(pool, workerContext('status'), async (client) => {
      const count = async (text: string) => (await client.query<{ n: number }>(text)).rows[0]?.n ?? 0;
      return [
        await count(`SELECT count(*)::int AS n FROM queue_jobs WHERE locked_until < now()`),
        await count(
          `SELECT count(*)::int AS n FROM appointments WHERE status = 'pending_payment' AND hold_expires_at < now() - interval '2 minutes'`,
        ),
      ];
    });
    const interrupted = stats
      .filter((stat) => stat.state === 'interrupted')
      .reduce((sum, stat) => sum + stat.items, 0);
    const webhooks = stats
      .filter((stat) => stat.kind === WEBHOOK_KIND && stat.label !== '')
      .map((stat) => ({
        provider: stat.label,
        status: stat.state,
        events: stat.items,
        oldestSeconds: stat.state === 'dead_letter' ? null : stat.oldestSeconds,
      }));
    const queues = stats
      .filter((stat) => stat.kind !== WEBHOOK_KIND)
      .map(({ kind, state, items, oldestSeconds }) => ({ kind, state, items, oldestSeconds }));
    const report = {
      migrations: {
        applied: migrations.applied.length,
        pending: migrations.pending.map((m) => m.name),
        problems: migrations.problems.map((p) => p.message),
      },
      webhooks,
      queues,
      interruptedBatches: interrupted,
      expiredLeases: leases,
      overdueHolds: holds,
    };
    if (options.json) {
      console.log(JSON.stringify(report, null, 2));
    } else {
      console.log(
        `migrations: ${report.migrations.applied} applied, ${report.migrations.pending.length} pending, ${report.migrations.problems.length} problem(s)`,
      );
      const age = (seconds: number | null) => (seconds === null ? '' : `, oldest ${Math.round(seconds)} s`);
      for (const stat of webhooks) {
        console.log(
          `webhooks ${stat.provider.padEnd(8)} ${stat.status.padEnd(11)} ${String(stat.events).padStart(7)}${age(stat.oldestSeconds)}`,
        );
      }
      if (webhooks.length === 0) console.log('webhooks: nothing waiting, nothing dead-lettered');
      for (const stat of queues) {
        console.log(
          `queue ${stat.kind.padEnd(24)} ${stat.state.padEnd(11)} ${String(stat.items).padStart(7)}${age(stat.oldestSeconds)}`,
        );
      }
      console.log(
        `items in batches that did not commit: ${interrupted} (a worker died mid-batch; the next claim counts their attempt)`,
      );
      console.log(`leases past their end: ${leases} (a worker died; they are reclaimed automatically)`);
      console.log(
        `holds overdue for expiry: ${holds} (the sweeper should have expired them; run \`carebook sweep\`)`,
      );
    }
    return report.migrations.problems.length > 0 ? 1 : 0;
  });
}

export async function runSweep(args: string[]): Promise<number> {
  parse(
    command('sweep', 'expire lapsed holds and purge idempotency records past their 24 h, once, now'),
    args,
  );
  return withDatabase(async (pool) => {
    // Each call handles a bounded batch (1,000 holds, 10,000 records): repeat until nothing is left.
    const total = { expired: 0, purged: 0 };
    for (;;) {
      const result = await sweep({ pool, metrics: createMetrics() });
      total.expired += result.expired;
      total.purged += result.purged;
      if (result.expired < 1000 && result.purged < 10_000) break;
    }
    console.log(`expired ${total.expired} hold(s), purged ${total.purged} idempotency record(s)`);
    return 0;
  });
}
