// carebook replay — put dead-letter webhook events back in the queue (admin only, audited).
import { userInfo } from 'node:os';
import { loadConfig } from '../config.js';
import { openDatabase } from '../db/database.js';
import { createPool } from '../db/pool.js';
import { PROVIDERS, type ProviderName } from '../webhooks/providers/index.js';
import { replayEvents } from '../webhooks/replay.js';
import {
  collect,
  command,
  InvalidArgumentError,
  integer,
  Option,
  parse,
  usageError,
  uuid,
} from './command.js';

function replayCommand() {
  return command(
    'replay',
    'put dead-letter webhook events back in the queue: re-verifies each stored signature, moves the matching events back to pending (same event_id, fresh attempt budget) and records an audit row with the actor and reason',
  )
    .option('--reason <text>', 'why (required, at least 3 characters): it goes into the audit trail', reason)
    .addOption(
      new Option('--status <status>', 'which events')
        .choices(['dead_letter', 'failed'])
        .default('dead_letter'),
    )
    .addOption(new Option('--provider <name>', 'only this provider').choices(Object.keys(PROVIDERS)))
    .option('--event-type <type>', 'only this provider event type, e.g. payment_intent.succeeded')
    .option(
      '--since <when>',
      'only events received since an ISO time or a relative age (30m, 24h, 7d)',
      since,
    )
    .option('--id <uuid>', 'only this event (repeatable)', collect(uuid))
    .option('--dry-run', 'list what would be replayed; change nothing (still audited)')
    .option('--actor <name>', 'who replays, for the audit row (default: os:<your user name>)')
    .option('--limit <N>', 'at most N events', integer(1, 100_000, '--limit 500'), 1000);
}

function reason(raw: string): string {
  if (raw.trim().length < 3)
    throw new InvalidArgumentError('Give at least 3 characters: it goes into the audit trail.');
  return raw;
}

function since(raw: string): Date {
  const relative = /^(\d+)([mhd])$/.exec(raw);
  if (relative) {
    return new Date(
      Date.now() - Number(relative[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 'm'],
    );
  }
  const date = new Date(raw);
  if (Number.isNaN(date.getTime())) {
    throw new InvalidArgumentError(
      'Expected an ISO time or a relative age, e.g. 2026-11-01T00:00:00Z, 30m, 24h or 7d.',
    );
  }
  return date;
}

interface ReplayOptions {
  reason?: string;
  status: 'dead_letter' | 'failed';
  provider?: ProviderName;
  eventType?: string;
  since?: Date;
  id?: string[];
  dryRun?: boolean;
  actor?: string;
  limit: number;
}

export async function run(args: string[]): Promise<number> {
  const definition = replayCommand();
  const { options } = parse<ReplayOptions>(definition, args);
  if (options.reason === undefined) {
    usageError(definition, '--reason is required (at least 3 characters): it goes into the audit trail');
  }
  const config = loadConfig();
  const database = await openDatabase(config);
  const pool = createPool(database.url, { max: 2 });
  try {
    const report = await replayEvents(
      { pool, webhooks: config.webhooks },
      {
        status: options.status,
        provider: options.provider,
        eventType: options.eventType,
        since: options.since,
        ids: options.id,
        limit: options.limit,
      },
      {
        reason: options.reason as string,
        actor: options.actor ?? `os:${userInfo().username}`,
        dryRun: options.dryRun ?? false,
      },
    );
    for (const event of report.events) {
      console.log(
        `${event.id}  ${event.provider.padEnd(8)} ${event.event_type.padEnd(32)} attempts ${event.attempts}  ${event.received_at}`,
      );
    }
    for (const skip of report.skipped) console.log(`${skip.id}  SKIPPED: ${skip.reason}`);
    console.log(
      report.dry_run
        ? `dry run: ${report.events.length} of ${report.matched} matching event(s) would be replayed; nothing changed`
        : `replayed ${report.replayed} of ${report.matched} matching event(s); ${report.skipped.length} skipped`,
    );
    return report.skipped.length > 0 && !report.dry_run ? 1 : 0;
  } finally {
    await pool.end();
    await database.close();
  }
}
