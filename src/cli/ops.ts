// carebook status — what an operator looks at first: migrations, the webhook queue (depth, oldest,
// dead letters, leases past their end), holds that should have expired. Read-only.
// carebook sweep — expires lapsed holds and purges old idempotency records once, now.
import { parseArgs } from 'node:util';
import { sweep } from '../booking/service.js';
import { loadConfig } from '../config.js';
import { openDatabase } from '../db/database.js';
import { migrationStatus } from '../db/migrate/runner.js';
import { createPool } from '../db/pool.js';
import { withTenant } from '../db/tenant.js';
import { createMetrics } from '../observability/metrics.js';
import { queueStats, workerContext } from '../webhooks/queue.js';

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
  const { values } = parseArgs({ args, options: { json: { type: 'boolean', default: false } } });
  return withDatabase(async (pool, url) => {
    const migrations = await migrationStatus({ databaseUrl: url });
    const queue = await queueStats(pool);
    const [leases, holds] = await withTenant(pool, workerContext('status'), async (client) => [
      (
        await client.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM webhook_events WHERE status = 'processing' AND locked_until < now()`,
        )
      ).rows[0]?.n ?? 0,
      (
        await client.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM appointments WHERE status = 'pending_payment' AND hold_expires_at < now() - interval '2 minutes'`,
        )
      ).rows[0]?.n ?? 0,
    ]);
    const report = {
      migrations: {
        applied: migrations.applied.length,
        pending: migrations.pending.map((m) => m.name),
        problems: migrations.problems.map((p) => p.message),
      },
      webhooks: queue,
      expiredLeases: leases,
      overdueHolds: holds,
    };
    if (values.json) {
      console.log(JSON.stringify(report, null, 2));
    } else {
      console.log(
        `migrations: ${report.migrations.applied} applied, ${report.migrations.pending.length} pending, ${report.migrations.problems.length} problem(s)`,
      );
      for (const stat of queue) {
        const age = stat.oldestSeconds === null ? '' : `, oldest ${Math.round(stat.oldestSeconds)} s`;
        console.log(
          `webhooks ${stat.provider.padEnd(8)} ${stat.status.padEnd(11)} ${String(stat.events).padStart(7)}${age}`,
        );
      }
      if (queue.length === 0) console.log('webhooks: nothing waiting, nothing dead-lettered');
      console.log(`leases past their end: ${leases} (a worker died; they are reclaimed automatically)`);
      console.log(
        `holds overdue for expiry: ${holds} (the sweeper should have expired them; run \`carebook sweep\`)`,
      );
    }
    return report.migrations.problems.length > 0 ? 1 : 0;
  });
}

export async function runSweep(args: string[]): Promise<number> {
  parseArgs({ args, options: {} });
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
