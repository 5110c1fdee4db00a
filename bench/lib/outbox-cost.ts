// What staging the outbox costs a booking: the booking transaction's triggers (00022) stage its
// effects — the PaymentIntent and the reminders of a priced slot — in the same transaction. The
// same direct-pg booking is measured with those triggers disabled, right after it is measured
// with them. Target (DESIGN.md): staging costs at most 10 % of bookings/s.
import pg from 'pg';
import type { LoopResult } from './closed-loop.js';
import { fixed, formatTable, percent } from './table.js';

const TRIGGERS = ['appointments', 'payments'].map(
  (table) => `ALTER TABLE ${table} %s TRIGGER _500_stage_outbox`,
);

async function setStaging(databaseUrl: string, enabled: boolean): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    for (const statement of TRIGGERS)
      await client.query(statement.replace('%s', enabled ? 'ENABLE' : 'DISABLE'));
  } finally {
    await client.end();
  }
}

/** Runs `measure` with the outbox's staging triggers disabled (the bench's database only). */
export async function withoutOutboxStaging<T>(databaseUrl: string, measure: () => Promise<T>): Promise<T> {
  await setStaging(databaseUrl, false);
  try {
    return await measure();
  } finally {
    await setStaging(databaseUrl, true);
  }
}

export function printStagingCost(
  points: ReadonlyArray<{ clients: number; direct: LoopResult; unstaged: LoopResult }>,
) {
  console.log(
    '\nOutbox staging: the direct booking with its effects staged (as above) and with the staging triggers disabled, back to back:',
  );
  console.log(
    formatTable(
      ['clients', 'staged req/s', 'p50 ms', 'not staged req/s', 'p50 ms', 'staged/not staged'],
      points.map((p) => [
        String(p.clients),
        fixed(p.direct.rate),
        fixed(p.direct.latency.percentile(50), 2),
        fixed(p.unstaged.rate),
        fixed(p.unstaged.latency.percentile(50), 2),
        percent(p.direct.rate, p.unstaged.rate),
      ]),
    ),
  );
  for (const p of points) {
    const cost = 1 - p.direct.rate / p.unstaged.rate;
    console.log(
      `target outbox staging costs ≤ 10 % of bookings/s at ${p.clients} clients: ${cost <= 0.1 ? 'met' : 'not met'} (${fixed(cost * 100, 1)} %)`,
    );
  }
}
