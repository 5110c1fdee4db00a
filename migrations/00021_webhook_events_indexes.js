// 00021 — webhook_events' indexes for the in-transaction claim of 00020. Every settle of an event
// writes a new row version, and each index on the table pays one insertion for it; only what a
// query reads stays:
//   + webhook_events_due_idx (status, next_attempt_at) for pending and failed events: new events
//     are claimed in batches (pending), retries one at a time (failed); each claim reads only its
//     own kind of rows. It replaces webhook_events_claimable_idx, whose predicate names the
//     processing status that 00020 retired.
//   − webhook_events_status_attempts_processed_idx (the seed plan's; no query reads it, and it was
//     the dearest: about half of a settle's time, docs/delivery-plan.md);
//   − webhook_events_recently_processed_idx (the dashboard reads queue_throughput now);
//   − webhook_events_request_idx (no request is deleted under its events any more, 00020).
// The table holds data, so everything is CONCURRENTLY, outside a transaction, as 00014. A failed
// build leaves an INVALID index: Up drops any leftover first, so running it again repairs it.
// Outside a transaction too, the status CHECK that 00020 added NOT VALID is validated (a scan that
// takes a lock blocking neither reads nor writes).

export const up = (pgm) => {
  pgm.noTransaction();
  pgm.sql("SET lock_timeout = '5s'");
  pgm.sql('DROP INDEX CONCURRENTLY IF EXISTS webhook_events_due_idx');
  pgm.sql(
    "CREATE INDEX CONCURRENTLY webhook_events_due_idx ON webhook_events (status, next_attempt_at) WHERE status IN ('pending', 'failed')",
  );
  pgm.sql(
    "COMMENT ON INDEX webhook_events_due_idx IS 'Events waiting, by status (pending: claimed in batches; failed: retried one at a time) and due time.'",
  );
  pgm.sql('DROP INDEX CONCURRENTLY IF EXISTS webhook_events_claimable_idx');
  pgm.sql('DROP INDEX CONCURRENTLY IF EXISTS webhook_events_status_attempts_processed_idx');
  pgm.sql('DROP INDEX CONCURRENTLY IF EXISTS webhook_events_recently_processed_idx');
  pgm.sql('DROP INDEX CONCURRENTLY IF EXISTS webhook_events_request_idx');
  pgm.sql('ALTER TABLE webhook_events VALIDATE CONSTRAINT webhook_events_status_check');
};

export const down = (pgm) => {
  pgm.noTransaction();
  pgm.sql("SET lock_timeout = '5s'");
  for (const name of [
    'webhook_events_request_idx',
    'webhook_events_recently_processed_idx',
    'webhook_events_status_attempts_processed_idx',
    'webhook_events_claimable_idx',
  ]) {
    pgm.sql(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
  }
  pgm.sql('CREATE INDEX CONCURRENTLY webhook_events_request_idx ON webhook_events (request_id)');
  pgm.sql(
    "CREATE INDEX CONCURRENTLY webhook_events_recently_processed_idx ON webhook_events (processed_at) WHERE status = 'success'",
  );
  pgm.sql(
    "COMMENT ON INDEX webhook_events_recently_processed_idx IS 'Events settled success, by time: processing rate per provider for the dashboard.'",
  );
  pgm.sql(
    'CREATE INDEX CONCURRENTLY webhook_events_status_attempts_processed_idx ON webhook_events (status, attempts, processed_at)',
  );
  pgm.sql(
    "CREATE INDEX CONCURRENTLY webhook_events_claimable_idx ON webhook_events (next_attempt_at) WHERE status IN ('pending', 'failed', 'processing')",
  );
  pgm.sql('DROP INDEX CONCURRENTLY IF EXISTS webhook_events_due_idx');
};
