-- 00009 — the guarantees that do not depend on application code, and the lookup indexes.
--   * a practitioner never has two overlapping open slots;
--   * a slot holds at most one active appointment (besides the row lock the procedures take);
--   * a patient never holds two active appointments that overlap in time.
-- The tables were created empty by 00003–00006 of the same release, so plain CREATE INDEX and
-- validated constraints take no meaningful lock here. A later migration that indexes a table
-- holding data must use CREATE INDEX CONCURRENTLY and NOT VALID + VALIDATE (docs/migrations).

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- squawk-ignore constraint-missing-not-valid
ALTER TABLE appointment_slots ADD CONSTRAINT appointment_slots_no_overlap
  EXCLUDE USING gist (practitioner_id WITH =, tstzrange(starts_at, ends_at) WITH &&)
  WHERE (status = 'open');
COMMENT ON CONSTRAINT appointment_slots_no_overlap ON appointment_slots IS 'A practitioner cannot have two overlapping open slots.';

-- squawk-ignore require-concurrent-index-creation
CREATE UNIQUE INDEX appointments_one_active_per_slot ON appointments (slot_id)
  WHERE status IN ('pending_payment', 'confirmed');
COMMENT ON INDEX appointments_one_active_per_slot IS 'At most one active appointment per slot, whatever the code above it does.';

-- squawk-ignore constraint-missing-not-valid
ALTER TABLE appointments ADD CONSTRAINT appointments_patient_no_overlap
  EXCLUDE USING gist (patient_id WITH =, tstzrange(starts_at, ends_at) WITH &&)
  WHERE (status IN ('pending_payment', 'confirmed'));
COMMENT ON CONSTRAINT appointments_patient_no_overlap ON appointments IS 'A patient cannot hold two active appointments that overlap in time.';

-- squawk-ignore require-concurrent-index-creation
CREATE INDEX appointment_slots_clinic_starts_idx ON appointment_slots (clinic_id, starts_at);
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX appointment_slots_practitioner_starts_idx ON appointment_slots (practitioner_id, starts_at);
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX appointments_clinic_starts_idx ON appointments (clinic_id, starts_at);
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX appointments_patient_starts_idx ON appointments (patient_id, starts_at);
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX appointments_pending_hold_idx ON appointments (hold_expires_at)
  WHERE status = 'pending_payment';
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX payments_appointment_idx ON payments (appointment_id);
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX patients_clinic_phone_idx ON patients (clinic_id, phone) WHERE phone IS NOT NULL;
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX patients_phone_idx ON patients (phone) WHERE phone IS NOT NULL;
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX users_clinic_role_idx ON users (clinic_id, role);
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX booking_requests_expires_idx ON booking_requests (expires_at);
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX webhook_events_status_attempts_processed_idx ON webhook_events (status, attempts, processed_at);
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX audit_log_table_row_idx ON audit.audit_log (table_name, row_id);
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX audit_log_clinic_occurred_idx ON audit.audit_log (clinic_id, occurred_at);

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
DROP INDEX IF EXISTS audit.audit_log_clinic_occurred_idx;
DROP INDEX IF EXISTS audit.audit_log_table_row_idx;
DROP INDEX IF EXISTS webhook_events_status_attempts_processed_idx;
DROP INDEX IF EXISTS booking_requests_expires_idx;
DROP INDEX IF EXISTS users_clinic_role_idx;
DROP INDEX IF EXISTS patients_phone_idx;
DROP INDEX IF EXISTS patients_clinic_phone_idx;
DROP INDEX IF EXISTS payments_appointment_idx;
DROP INDEX IF EXISTS appointments_pending_hold_idx;
DROP INDEX IF EXISTS appointments_patient_starts_idx;
DROP INDEX IF EXISTS appointments_clinic_starts_idx;
DROP INDEX IF EXISTS appointment_slots_practitioner_starts_idx;
DROP INDEX IF EXISTS appointment_slots_clinic_starts_idx;
ALTER TABLE appointments DROP CONSTRAINT IF EXISTS appointments_patient_no_overlap;
DROP INDEX IF EXISTS appointments_one_active_per_slot;
ALTER TABLE appointment_slots DROP CONSTRAINT IF EXISTS appointment_slots_no_overlap;
