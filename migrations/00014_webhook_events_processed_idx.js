// 00014 — an index for "events handled in the last minute, by provider" (the dashboard's webhook
// processing rate). webhook_events grows without bound, so this is built CONCURRENTLY — which
// cannot run inside a transaction, hence a .js migration with pgm.noTransaction() (see
// docs/migrations/README.md, "Lock safety"). If it fails half way it leaves an INVALID index:
// the Up section drops any leftover first, so running it again repairs it.

export const up = (pgm) => {
  pgm.noTransaction();
  pgm.sql("SET lock_timeout = '5s'");
  pgm.sql('DROP INDEX CONCURRENTLY IF EXISTS webhook_events_recently_processed_idx');
  pgm.sql(
    "CREATE INDEX CONCURRENTLY webhook_events_recently_processed_idx ON webhook_events (processed_at) WHERE status = 'success'",
  );
  pgm.sql(
    "COMMENT ON INDEX webhook_events_recently_processed_idx IS 'Events settled success, by time: processing rate per provider for the dashboard.'",
  );
};

export const down = (pgm) => {
  pgm.noTransaction();
  pgm.sql("SET lock_timeout = '5s'");
  pgm.sql('DROP INDEX CONCURRENTLY IF EXISTS webhook_events_recently_processed_idx');
};
