// 00018 — the index availability search reads: bookable slots of a clinic in (starts_at,
// practitioner_id) order, the search's keyset. Without it PostgreSQL sorts every slot of the range
// (14,880 for ten practitioners × 62 days) before the LIMIT whenever its statistics are stale, as
// they are right after a generation: 110 ms against 3 ms measured (docs/ops/schedules.md).
// appointment_slots holds data, so the index is built CONCURRENTLY — not possible inside a
// transaction, hence a .js migration with pgm.noTransaction(), as 00014. A failed build leaves an
// INVALID index: the Up section drops any leftover first, so running it again repairs it.

export const up = (pgm) => {
  pgm.noTransaction();
  pgm.sql("SET lock_timeout = '5s'");
  pgm.sql('DROP INDEX CONCURRENTLY IF EXISTS appointment_slots_bookable_idx');
  pgm.sql(
    'CREATE INDEX CONCURRENTLY appointment_slots_bookable_idx ON appointment_slots (clinic_id, starts_at, practitioner_id) WHERE is_available',
  );
  pgm.sql(
    "COMMENT ON INDEX appointment_slots_bookable_idx IS 'Bookable slots of a clinic in availability search order (starts_at, practitioner_id).'",
  );
};

export const down = (pgm) => {
  pgm.noTransaction();
  pgm.sql("SET lock_timeout = '5s'");
  pgm.sql('DROP INDEX CONCURRENTLY IF EXISTS appointment_slots_bookable_idx');
};
