// carebook replay — put dead-letter webhook events back in the queue (admin only, audited).
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { openDatabase } from '../db/database.js';
import { createPool } from '../db/pool.js';
import { isUuid } from '../db/tenant.js';
import { PROVIDERS, type ProviderName } from '../webhooks/providers/index.js';
import { replayEvents } from '../webhooks/replay.js';

const USAGE = `usage: carebook replay --reason "why" [--status dead_letter|failed] [--provider NAME] [--event-type TYPE]
                       [--since 2026-11-01T00:00:00Z|24h] [--id UUID …] [--dry-run] [--actor NAME] [--limit N]
  Re-verifies each stored signature, moves matching events back to pending (same event_id, fresh
  attempt budget) and records an audit row with the actor (default: your OS user) and reason.`;

function since(value: string | undefined): Date | undefined | null {
  if (value === undefined) return undefined;
  const relative = /^(\d+)([mhd])$/.exec(value);
  if (relative)
    return new Date(
      Date.now() - Number(relative[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 'm'],
    );
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      reason: { type: 'string' },
      status: { type: 'string', default: 'dead_letter' },
      provider: { type: 'string' },
      'event-type': { type: 'string' },
      since: { type: 'string' },
      id: { type: 'string', multiple: true },
      'dry-run': { type: 'boolean', default: false },
      actor: { type: 'string' },
      limit: { type: 'string', default: '1000' },
    },
  });
  const after = since(values.since);
  const limit = Number(values.limit);
  const problem =
    !values.reason || values.reason.trim().length < 3
      ? '--reason is required (at least 3 characters): it goes into the audit trail'
      : values.status !== 'dead_letter' && values.status !== 'failed'
        ? '--status must be dead_letter or failed'
        : values.provider !== undefined && !(values.provider in PROVIDERS)
          ? `--provider must be one of ${Object.keys(PROVIDERS).join(', ')}`
          : after === null
            ? '--since takes an ISO time or a relative age such as 30m, 24h, 7d'
            : values.id?.some((id) => !isUuid(id))
              ? '--id takes event uuids'
              : !Number.isInteger(limit) || limit < 1 || limit > 100_000
                ? '--limit takes a number from 1 to 100000'
                : null;
  if (problem) {
    console.error(`carebook: ${problem}\n${USAGE}`);
    return 2;
  }
  const config = loadConfig();
  const database = await openDatabase(config);
  const pool = createPool(database.url, { max: 2 });
  try {
    const report = await replayEvents(
      { pool, webhooks: config.webhooks },
      {
        status: values.status as 'dead_letter',
        provider: values.provider as ProviderName | undefined,
        eventType: values['event-type'],
        since: after ?? undefined,
        ids: values.id,
        limit,
      },
      {
        reason: values.reason as string,
        actor: values.actor ?? `os:${userInfo().username}`,
        dryRun: values['dry-run'],
      },
    );
    for (const event of report.events) {
      console.log(
        `${event.id}  ${event.provider.padEnd(8)} ${event.eventType.padEnd(32)} attempts ${event.attempts}  ${event.receivedAt}`,
      );
    }
    for (const skip of report.skipped) console.log(`${skip.id}  SKIPPED: ${skip.reason}`);
    console.log(
      report.dryRun
        ? `dry run: ${report.events.length} of ${report.matched} matching event(s) would be replayed; nothing changed`
        : `replayed ${report.replayed} of ${report.matched} matching event(s); ${report.skipped.length} skipped`,
    );
    return report.skipped.length > 0 && !report.dryRun ? 1 : 0;
  } finally {
    await pool.end();
    await database.close();
  }
}
