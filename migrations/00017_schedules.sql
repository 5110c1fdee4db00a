-- 00017 — schedules: weekly rules, per-date exceptions, time off and clinic holidays, which
-- src/schedules expands into appointment_slots. Expansion happens in the service with Temporal,
-- not here: PostgreSQL reads a repeated local hour as standard time, the opposite of RFC 5545, and
-- AT TIME ZONE is IMMUTABLE, so anything built on it goes stale when tzdata changes
-- (research/scheduling.md). The database stores the rules, guards the slots and books them.
-- Slots gain what regeneration needs (schedule, rule, local date, tzdata version, and the
-- schedule's notice and buffers, so that booking checks the stored row and never a copy of the
-- schedule) and a needs_review status: a booked slot that its schedule no longer wants is never
-- moved or cancelled, staff decide.
-- book_appointment is replaced to enforce notice and buffers under a per-practitioner advisory
-- lock, the same lock regeneration takes. Lock order: idempotency row → patient → practitioner →
-- slot rows.
-- appointment_slots may hold data: its new constraints are added NOT VALID, then validated.

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- practitioner_schedules ----------------------------------------------------------------------
CREATE TABLE practitioner_schedules (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  clinic_id uuid NOT NULL REFERENCES clinics (id),
  practitioner_id uuid NOT NULL,
  timezone text CHECK (length(timezone) BETWEEN 1 AND 64),
  valid_from date NOT NULL,
  valid_until date,
  slot_minutes integer NOT NULL CHECK (slot_minutes BETWEEN 5 AND 720),
  buffer_before_minutes integer NOT NULL DEFAULT 0 CHECK (buffer_before_minutes BETWEEN 0 AND 240),
  buffer_after_minutes integer NOT NULL DEFAULT 0 CHECK (buffer_after_minutes BETWEEN 0 AND 240),
  min_notice_minutes integer NOT NULL DEFAULT 0 CHECK (min_notice_minutes BETWEEN 0 AND 43200),
  horizon_days integer NOT NULL DEFAULT 90 CHECK (horizon_days BETWEEN 1 AND 366),
  visit_type text NOT NULL DEFAULT 'in_person' CHECK (visit_type IN ('in_person', 'video')),
  price_cents integer CHECK (price_cents > 0),
  currency text CHECK (currency ~ '^[A-Z]{3}$'),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (clinic_id, id),
  FOREIGN KEY (clinic_id, practitioner_id) REFERENCES users (clinic_id, id),
  CONSTRAINT practitioner_schedules_valid_range CHECK (valid_until IS NULL OR valid_until >= valid_from),
  CONSTRAINT practitioner_schedules_price_has_currency CHECK ((price_cents IS NULL) = (currency IS NULL))
);
ALTER TABLE practitioner_schedules ENABLE ROW LEVEL SECURITY;
ALTER TABLE practitioner_schedules FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_staff_select ON practitioner_schedules FOR SELECT TO carebook_app, carebook_readonly
  USING (clinic_id = app_clinic_id() AND app_role() IN ('staff', 'clinic_admin'));
CREATE POLICY clinic_staff_write ON practitioner_schedules FOR ALL TO carebook_app
  USING (clinic_id = app_clinic_id() AND app_role() IN ('staff', 'clinic_admin'))
  WITH CHECK (clinic_id = app_clinic_id() AND app_role() IN ('staff', 'clinic_admin'));
CREATE POLICY service_select ON practitioner_schedules FOR SELECT TO carebook_worker USING (true);
CREATE POLICY platform_admin_all ON practitioner_schedules FOR ALL TO carebook_admin USING (true) WITH CHECK (true);
GRANT SELECT ON practitioner_schedules TO carebook_app, carebook_readonly, carebook_worker, carebook_admin;
GRANT INSERT (id, clinic_id, practitioner_id, timezone, valid_from, valid_until, slot_minutes,
              buffer_before_minutes, buffer_after_minutes, min_notice_minutes, horizon_days, visit_type,
              price_cents, currency),
      UPDATE (timezone, valid_from, valid_until, slot_minutes, buffer_before_minutes, buffer_after_minutes,
              min_notice_minutes, horizon_days, visit_type, price_cents, currency),
      DELETE
  ON practitioner_schedules TO carebook_app, carebook_admin;
COMMENT ON TABLE practitioner_schedules IS 'When a practitioner works: weekly rules (schedule_rules) in an IANA zone over a validity range, expanded into appointment_slots by the service.';
COMMENT ON COLUMN practitioner_schedules.timezone IS 'IANA zone of the rules; NULL means the clinic''s zone (validated by the API).';
COMMENT ON COLUMN practitioner_schedules.valid_from IS 'First local date the rules apply to; also the anchor of every_n_weeks (its ISO week is week 0).';
COMMENT ON COLUMN practitioner_schedules.slot_minutes IS 'Slot length in elapsed minutes and the step of the local wall-clock grid from each window''s start.';
COMMENT ON COLUMN practitioner_schedules.buffer_before_minutes IS 'Free time needed before a booked slot; with buffer_after_minutes, the least gap between two booked slots.';
COMMENT ON COLUMN practitioner_schedules.min_notice_minutes IS 'A slot is bookable only while it starts at least this far in the future.';
COMMENT ON COLUMN practitioner_schedules.horizon_days IS 'How many local dates ahead of today slots exist; the worker rolls it forward nightly.';
CREATE TRIGGER _100_set_updated_at BEFORE UPDATE ON practitioner_schedules
  FOR EACH ROW EXECUTE FUNCTION tg__set_updated_at();
CREATE TRIGGER _900_audit AFTER INSERT OR UPDATE OR DELETE ON practitioner_schedules
  FOR EACH ROW EXECUTE FUNCTION audit.tg_audit__row_change();

-- schedule_rules ------------------------------------------------------------------------------
CREATE TABLE schedule_rules (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  clinic_id uuid NOT NULL REFERENCES clinics (id),
  schedule_id uuid NOT NULL,
  weekday integer NOT NULL CHECK (weekday BETWEEN 1 AND 7),
  start_time time NOT NULL,
  end_time time NOT NULL,
  every_n_weeks integer NOT NULL DEFAULT 1 CHECK (every_n_weeks BETWEEN 1 AND 8),
  visit_type text CHECK (visit_type IN ('in_person', 'video')),
  UNIQUE (clinic_id, id),
  UNIQUE (clinic_id, schedule_id, weekday, start_time, end_time, every_n_weeks, visit_type),
  FOREIGN KEY (clinic_id, schedule_id) REFERENCES practitioner_schedules (clinic_id, id) ON DELETE CASCADE
);
ALTER TABLE schedule_rules ENABLE ROW LEVEL SECURITY;
ALTER TABLE schedule_rules FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_staff_select ON schedule_rules FOR SELECT TO carebook_app, carebook_readonly
  USING (clinic_id = app_clinic_id() AND app_role() IN ('staff', 'clinic_admin'));
CREATE POLICY clinic_staff_write ON schedule_rules FOR ALL TO carebook_app
  USING (clinic_id = app_clinic_id() AND app_role() IN ('staff', 'clinic_admin'))
  WITH CHECK (clinic_id = app_clinic_id() AND app_role() IN ('staff', 'clinic_admin'));
CREATE POLICY service_select ON schedule_rules FOR SELECT TO carebook_worker USING (true);
CREATE POLICY platform_admin_all ON schedule_rules FOR ALL TO carebook_admin USING (true) WITH CHECK (true);
GRANT SELECT ON schedule_rules TO carebook_app, carebook_readonly, carebook_worker, carebook_admin;
GRANT INSERT (id, clinic_id, schedule_id, weekday, start_time, end_time, every_n_weeks, visit_type), DELETE
  ON schedule_rules TO carebook_app, carebook_admin;
COMMENT ON TABLE schedule_rules IS 'A weekly working window of a schedule, in local wall-clock time. Breaks are the gaps between rules. Rules are never updated: an edit keeps the rules it still has (their slots keep rule_id) and replaces the rest.';
COMMENT ON COLUMN schedule_rules.weekday IS 'ISO weekday of the local date the window starts on: 1 = Monday … 7 = Sunday.';
COMMENT ON COLUMN schedule_rules.end_time IS 'Local end; at or before start_time the window runs into the next day (an overnight shift).';
COMMENT ON COLUMN schedule_rules.every_n_weeks IS 'The rule applies in ISO weeks 0, n, 2n … counted from the week of the schedule''s valid_from.';
COMMENT ON COLUMN schedule_rules.visit_type IS 'Visit type of this window''s slots; NULL means the schedule''s.';
CREATE TRIGGER _900_audit AFTER INSERT OR UPDATE OR DELETE ON schedule_rules
  FOR EACH ROW EXECUTE FUNCTION audit.tg_audit__row_change();

-- schedule_exceptions -------------------------------------------------------------------------
CREATE TABLE schedule_exceptions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  clinic_id uuid NOT NULL REFERENCES clinics (id),
  practitioner_id uuid NOT NULL,
  local_date date NOT NULL,
  closed boolean NOT NULL,
  start_time time,
  end_time time,
  reason text CHECK (length(reason) <= 500),
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (clinic_id, id),
  UNIQUE (clinic_id, practitioner_id, local_date),
  FOREIGN KEY (clinic_id, practitioner_id) REFERENCES users (clinic_id, id),
  CONSTRAINT schedule_exceptions_hours_unless_closed
    CHECK (closed = (start_time IS NULL) AND (start_time IS NULL) = (end_time IS NULL))
);
ALTER TABLE schedule_exceptions ENABLE ROW LEVEL SECURITY;
ALTER TABLE schedule_exceptions FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_staff_select ON schedule_exceptions FOR SELECT TO carebook_app, carebook_readonly
  USING (clinic_id = app_clinic_id() AND app_role() IN ('staff', 'clinic_admin'));
CREATE POLICY clinic_staff_write ON schedule_exceptions FOR ALL TO carebook_app
  USING (clinic_id = app_clinic_id() AND app_role() IN ('staff', 'clinic_admin'))
  WITH CHECK (clinic_id = app_clinic_id() AND app_role() IN ('staff', 'clinic_admin'));
CREATE POLICY service_select ON schedule_exceptions FOR SELECT TO carebook_worker USING (true);
CREATE POLICY platform_admin_all ON schedule_exceptions FOR ALL TO carebook_admin USING (true) WITH CHECK (true);
GRANT SELECT ON schedule_exceptions TO carebook_app, carebook_readonly, carebook_worker, carebook_admin;
GRANT INSERT (id, clinic_id, practitioner_id, local_date, closed, start_time, end_time, reason), DELETE
  ON schedule_exceptions TO carebook_app, carebook_admin;
COMMENT ON TABLE schedule_exceptions IS 'One local date of a practitioner that replaces the weekly rules: closed, or custom hours (one window, generated with the first schedule valid that date).';
COMMENT ON COLUMN schedule_exceptions.local_date IS 'A date, never an instant: matched against the local date a window starts on.';
CREATE TRIGGER _900_audit AFTER INSERT OR UPDATE OR DELETE ON schedule_exceptions
  FOR EACH ROW EXECUTE FUNCTION audit.tg_audit__row_change('reason');

-- time_off ------------------------------------------------------------------------------------
CREATE TABLE time_off (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  clinic_id uuid NOT NULL REFERENCES clinics (id),
  practitioner_id uuid NOT NULL,
  -- squawk-ignore prefer-timestamp-tz
  start_local timestamp NOT NULL, -- wall clock on purpose: the zone's rules may change before the date
  -- squawk-ignore prefer-timestamp-tz
  end_local timestamp NOT NULL,
  reason text CHECK (length(reason) <= 500),
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (clinic_id, id),
  FOREIGN KEY (clinic_id, practitioner_id) REFERENCES users (clinic_id, id),
  CONSTRAINT time_off_order CHECK (end_local > start_local),
  CONSTRAINT time_off_max_length CHECK (end_local - start_local <= interval '366 days')
);
ALTER TABLE time_off ENABLE ROW LEVEL SECURITY;
ALTER TABLE time_off FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_staff_select ON time_off FOR SELECT TO carebook_app, carebook_readonly
  USING (clinic_id = app_clinic_id() AND app_role() IN ('staff', 'clinic_admin'));
CREATE POLICY clinic_staff_write ON time_off FOR ALL TO carebook_app
  USING (clinic_id = app_clinic_id() AND app_role() IN ('staff', 'clinic_admin'))
  WITH CHECK (clinic_id = app_clinic_id() AND app_role() IN ('staff', 'clinic_admin'));
CREATE POLICY service_select ON time_off FOR SELECT TO carebook_worker USING (true);
CREATE POLICY platform_admin_all ON time_off FOR ALL TO carebook_admin USING (true) WITH CHECK (true);
GRANT SELECT ON time_off TO carebook_app, carebook_readonly, carebook_worker, carebook_admin;
GRANT INSERT (id, clinic_id, practitioner_id, start_local, end_local, reason), DELETE
  ON time_off TO carebook_app, carebook_admin;
COMMENT ON TABLE time_off IS 'A practitioner away: a local wall-clock range in each schedule''s zone (timestamp without zone on purpose), resolved with Temporal''s compatible rule; slots overlapping it are not generated.';
COMMENT ON COLUMN time_off.reason IS 'Free text for staff; may be personal: never logged.';
CREATE TRIGGER _900_audit AFTER INSERT OR UPDATE OR DELETE ON time_off
  FOR EACH ROW EXECUTE FUNCTION audit.tg_audit__row_change('reason');

-- clinic_holidays -----------------------------------------------------------------------------
CREATE TABLE clinic_holidays (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  clinic_id uuid NOT NULL REFERENCES clinics (id),
  local_date date NOT NULL,
  name text CHECK (length(btrim(name)) BETWEEN 1 AND 200),
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (clinic_id, id),
  UNIQUE (clinic_id, local_date)
);
ALTER TABLE clinic_holidays ENABLE ROW LEVEL SECURITY;
ALTER TABLE clinic_holidays FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_staff_select ON clinic_holidays FOR SELECT TO carebook_app, carebook_readonly
  USING (clinic_id = app_clinic_id() AND app_role() IN ('staff', 'clinic_admin'));
CREATE POLICY clinic_staff_write ON clinic_holidays FOR ALL TO carebook_app
  USING (clinic_id = app_clinic_id() AND app_role() IN ('staff', 'clinic_admin'))
  WITH CHECK (clinic_id = app_clinic_id() AND app_role() IN ('staff', 'clinic_admin'));
CREATE POLICY service_select ON clinic_holidays FOR SELECT TO carebook_worker USING (true);
CREATE POLICY platform_admin_all ON clinic_holidays FOR ALL TO carebook_admin USING (true) WITH CHECK (true);
GRANT SELECT ON clinic_holidays TO carebook_app, carebook_readonly, carebook_worker, carebook_admin;
GRANT INSERT (id, clinic_id, local_date, name), DELETE ON clinic_holidays TO carebook_app, carebook_admin;
COMMENT ON TABLE clinic_holidays IS 'Local dates on which no practitioner of the clinic works; a window starting that date yields no slots.';
CREATE TRIGGER _900_audit AFTER INSERT OR UPDATE OR DELETE ON clinic_holidays
  FOR EACH ROW EXECUTE FUNCTION audit.tg_audit__row_change();

-- appointment_slots: what generation needs ---------------------------------------------------
ALTER TABLE appointment_slots
  ADD COLUMN rule_id uuid,
  ADD COLUMN local_date date,
  ADD COLUMN tzdata_version text,
  ADD COLUMN min_notice_minutes integer NOT NULL DEFAULT 0,
  ADD COLUMN buffer_before_minutes integer NOT NULL DEFAULT 0,
  ADD COLUMN buffer_after_minutes integer NOT NULL DEFAULT 0;
-- The new constraints are NOT VALID (still enforced on every insert and update) and left so: a
-- VALIDATE in this transaction would scan the table under the ACCESS EXCLUSIVE lock the ADD took,
-- and every existing row satisfies them already — the old status check was stricter, the policy
-- columns were just added as 0, and no code wrote schedule_id or rule_id before this release.
ALTER TABLE appointment_slots DROP CONSTRAINT appointment_slots_status_check;
ALTER TABLE appointment_slots ADD CONSTRAINT appointment_slots_status_check
  CHECK (status IN ('open', 'withdrawn', 'needs_review')) NOT VALID;
ALTER TABLE appointment_slots ADD CONSTRAINT appointment_slots_policy_bounds
  CHECK (min_notice_minutes BETWEEN 0 AND 43200 AND buffer_before_minutes BETWEEN 0 AND 240
         AND buffer_after_minutes BETWEEN 0 AND 240) NOT VALID;
-- A deleted schedule or rule leaves its slots (regeneration has withdrawn or flagged them first)
-- with clinic_id intact: SET NULL names the one column.
ALTER TABLE appointment_slots ADD CONSTRAINT appointment_slots_schedule_fkey
  FOREIGN KEY (clinic_id, schedule_id) REFERENCES practitioner_schedules (clinic_id, id)
  ON DELETE SET NULL (schedule_id) NOT VALID;
ALTER TABLE appointment_slots ADD CONSTRAINT appointment_slots_rule_fkey
  FOREIGN KEY (clinic_id, rule_id) REFERENCES schedule_rules (clinic_id, id)
  ON DELETE SET NULL (rule_id) NOT VALID;
GRANT INSERT (rule_id, local_date, tzdata_version, min_notice_minutes, buffer_before_minutes, buffer_after_minutes)
  ON appointment_slots TO carebook_app, carebook_admin;
GRANT INSERT (id, clinic_id, practitioner_id, starts_at, ends_at, visit_type, price_cents, currency, schedule_id,
              rule_id, local_date, tzdata_version, min_notice_minutes, buffer_before_minutes, buffer_after_minutes)
  ON appointment_slots TO carebook_worker;
GRANT UPDATE (ends_at, visit_type, price_cents, currency, schedule_id, rule_id, local_date, tzdata_version,
              min_notice_minutes, buffer_before_minutes, buffer_after_minutes)
  ON appointment_slots TO carebook_app, carebook_admin, carebook_worker;
GRANT UPDATE (status) ON appointment_slots TO carebook_worker;
COMMENT ON COLUMN appointment_slots.status IS 'open; withdrawn (taken off the schedule, kept for history); needs_review (booked, but its schedule no longer wants it: never moved or cancelled automatically, staff decide).';
COMMENT ON COLUMN appointment_slots.schedule_id IS 'The schedule that generated the slot; NULL for hand-made slots, which regeneration never touches.';
COMMENT ON COLUMN appointment_slots.rule_id IS 'The weekly rule whose window holds the slot; NULL for an exception''s custom hours.';
COMMENT ON COLUMN appointment_slots.local_date IS 'Local date (schedule zone) of the window the slot belongs to: an overnight slot after midnight belongs to the evening before.';
COMMENT ON COLUMN appointment_slots.tzdata_version IS 'IANA tzdata the slot was last generated with (process.versions.tz); a new version regenerates the horizon.';
COMMENT ON COLUMN appointment_slots.min_notice_minutes IS 'Copied from the schedule, so booking and search check the stored row alone.';

-- Audit: generated slots are derived data, written thousands at a time; one audit row per
-- practitioner and statement says what a generation inserted (a row each would triple its cost,
-- measured in docs/ops/schedules.md). Hand-made slots keep one row each, and every update and
-- delete of any slot (withdrawn, needs_review, booked) is still audited row by row.
CREATE FUNCTION audit.tg_appointment_slots__generated() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
BEGIN
  INSERT INTO audit.audit_log (clinic_id, actor, actor_role, action, table_name, details)
  SELECT i.clinic_id, audit.current_actor(), nullif(current_setting('carebook.role', true), ''), 'slots.generate',
         'appointment_slots',
         jsonb_build_object('practitioner_id', i.practitioner_id, 'created', count(*),
                            'first_starts_at', min(i.starts_at), 'last_starts_at', max(i.starts_at),
                            'schedule_ids', jsonb_agg(DISTINCT i.schedule_id))
    FROM inserted i
   WHERE i.schedule_id IS NOT NULL
   GROUP BY i.clinic_id, i.practitioner_id;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION audit.tg_appointment_slots__generated() IS 'Trigger: one audit row per practitioner for the generated slots a statement inserted.';
REVOKE EXECUTE ON FUNCTION audit.tg_appointment_slots__generated() FROM PUBLIC;
DROP TRIGGER _900_audit ON appointment_slots;
CREATE TRIGGER _900_audit AFTER UPDATE OR DELETE ON appointment_slots
  FOR EACH ROW EXECUTE FUNCTION audit.tg_audit__row_change();
CREATE TRIGGER _900_audit_insert AFTER INSERT ON appointment_slots
  FOR EACH ROW WHEN (NEW.schedule_id IS NULL) EXECUTE FUNCTION audit.tg_audit__row_change();
CREATE TRIGGER _901_audit_generated AFTER INSERT ON appointment_slots
  REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT EXECUTE FUNCTION audit.tg_appointment_slots__generated();

-- These two are inlined into the queries that call them (no SET clause, so the planner may),
-- hence every name in them is schema-qualified instead of a pinned search_path.
CREATE FUNCTION slot_within_notice(p_slot appointment_slots) RETURNS boolean
LANGUAGE sql STABLE
AS $$ SELECT p_slot.starts_at <= pg_catalog.now() + pg_catalog.make_interval(mins => p_slot.min_notice_minutes) $$;
COMMENT ON FUNCTION slot_within_notice(appointment_slots) IS 'True when the slot starts too soon to be booked (started, or inside its minimum notice). Search and booking both ask this.';

CREATE FUNCTION slot_buffer_conflict(p_slot appointment_slots) RETURNS boolean
LANGUAGE sql STABLE
AS $$
  -- Two booked slots need buffer_after (of the first) + buffer_before (of the second) between them;
  -- with one schedule's buffers on both, that is the sum either way. 12 hours is the longest slot.
  SELECT p_slot.buffer_before_minutes + p_slot.buffer_after_minutes > 0 AND EXISTS (
    SELECT 1 FROM public.appointment_slots s
     WHERE s.practitioner_id = p_slot.practitioner_id AND s.id <> p_slot.id AND s.appointment_id IS NOT NULL
       AND s.starts_at > p_slot.starts_at - interval '12 hours'
                         - pg_catalog.make_interval(mins => p_slot.buffer_before_minutes + p_slot.buffer_after_minutes)
       AND s.starts_at < p_slot.ends_at
                         + pg_catalog.make_interval(mins => p_slot.buffer_before_minutes + p_slot.buffer_after_minutes)
       AND pg_catalog.tstzrange(s.starts_at, s.ends_at) && pg_catalog.tstzrange(
             p_slot.starts_at - pg_catalog.make_interval(mins => p_slot.buffer_before_minutes + p_slot.buffer_after_minutes),
             p_slot.ends_at + pg_catalog.make_interval(mins => p_slot.buffer_before_minutes + p_slot.buffer_after_minutes)))
$$;
COMMENT ON FUNCTION slot_buffer_conflict(appointment_slots) IS 'True when another booked slot of the practitioner lies inside this slot''s buffers. Search and booking both ask this.';
REVOKE EXECUTE ON FUNCTION slot_within_notice(appointment_slots), slot_buffer_conflict(appointment_slots) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION slot_within_notice(appointment_slots), slot_buffer_conflict(appointment_slots)
  TO carebook_app, carebook_readonly, carebook_worker, carebook_admin;

-- book_appointment: 00011's body with three additions, each marked "00017".
CREATE OR REPLACE FUNCTION book_appointment(
  p_slot_id uuid,
  p_patient_id uuid,
  p_requested_by text,
  p_idempotency_key text,
  p_metadata jsonb DEFAULT '{}'
) RETURNS TABLE (response_status integer, response_body jsonb, replayed boolean)
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_claim record;
  v_slot appointment_slots%ROWTYPE;
  v_appointment_id uuid := gen_random_uuid();
  v_payment_id uuid;
  v_body jsonb;
  v_hold interval := make_interval(mins => coalesce(nullif(current_setting('carebook.hold_minutes', true), '')::integer, 15));
BEGIN
  SELECT * INTO v_claim FROM claim_booking_request('book', p_requested_by, p_idempotency_key,
    jsonb_build_object('slot_id', p_slot_id, 'patient_id', p_patient_id, 'metadata', coalesce(p_metadata, '{}')));
  IF v_claim.request_id IS NULL THEN
    RETURN QUERY SELECT v_claim.response_status, v_claim.response_body, true;
    RETURN;
  END IF;

  -- One booking at a time per patient, so the overlap check below cannot race.
  PERFORM pg_advisory_xact_lock(hashtextextended('carebook:patient:' || p_patient_id, 0));
  -- 00017: one booking or regeneration at a time per practitioner, so the buffer check cannot race
  -- and regeneration never withdraws a slot while it is being booked.
  PERFORM pg_advisory_xact_lock(hashtextextended('carebook:practitioner:' || s.practitioner_id, 0))
     FROM appointment_slots s WHERE s.id = p_slot_id;

  SELECT * INTO v_slot FROM appointment_slots WHERE id = p_slot_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no slot % in this clinic', p_slot_id USING errcode = 'CB002';
  END IF;
  IF NOT v_slot.is_available THEN
    RAISE EXCEPTION 'the slot is already taken' USING errcode = 'CB001', detail = 'Choose another slot.';
  END IF;
  IF v_slot.starts_at <= now() THEN
    RAISE EXCEPTION 'the slot has already started' USING errcode = 'CB001', detail = 'Choose a slot in the future.';
  END IF;
  -- 00017: the same two rules availability search applies, on the stored row.
  IF slot_within_notice(v_slot) THEN
    RAISE EXCEPTION 'the slot starts within % minutes', v_slot.min_notice_minutes USING errcode = 'CB201',
      detail = 'Choose a later slot.';
  END IF;
  IF slot_buffer_conflict(v_slot) THEN
    RAISE EXCEPTION 'the slot is too close to another booking' USING errcode = 'CB202',
      detail = 'Choose another slot.';
  END IF;
  PERFORM 1 FROM patients WHERE id = p_patient_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no patient % in this clinic', p_patient_id USING errcode = 'CB006';
  END IF;
  PERFORM 1 FROM appointments
   WHERE patient_id = p_patient_id AND status IN ('pending_payment', 'confirmed')
     AND tstzrange(starts_at, ends_at) && tstzrange(v_slot.starts_at, v_slot.ends_at);
  IF FOUND THEN
    RAISE EXCEPTION 'the patient already has an appointment at that time' USING errcode = 'CB007';
  END IF;

  INSERT INTO appointments (id, clinic_id, slot_id, patient_id, status, starts_at, ends_at, visit_type, notes,
                            created_by, hold_expires_at, video_room_name)
  VALUES (v_appointment_id, v_slot.clinic_id, v_slot.id, p_patient_id,
          CASE WHEN v_slot.price_cents IS NULL THEN 'confirmed' ELSE 'pending_payment' END,
          v_slot.starts_at, v_slot.ends_at, v_slot.visit_type, p_metadata ->> 'notes', p_requested_by,
          CASE WHEN v_slot.price_cents IS NOT NULL THEN now() + v_hold END,
          CASE WHEN v_slot.visit_type = 'video' THEN 'cb-' || replace(v_appointment_id::text, '-', '') END);
  IF v_slot.price_cents IS NOT NULL THEN
    INSERT INTO payments (clinic_id, appointment_id, patient_id, amount_cents, currency, status)
    VALUES (v_slot.clinic_id, v_appointment_id, p_patient_id, v_slot.price_cents, v_slot.currency, 'pending')
    RETURNING id INTO v_payment_id;
  END IF;
  UPDATE appointment_slots SET is_available = false, appointment_id = v_appointment_id WHERE id = v_slot.id;

  v_body := booking_response_body(v_appointment_id);
  UPDATE booking_requests SET response_status = 201, response_body = v_body, appointment_id = v_appointment_id
   WHERE id = v_claim.request_id;
  PERFORM audit.record('appointment.book', v_slot.clinic_id, 'appointments', v_appointment_id,
    jsonb_build_object('slot_id', v_slot.id, 'payment_id', v_payment_id, 'idempotency_key', p_idempotency_key));
  RETURN QUERY SELECT 201, v_body, false;
END
$$;
COMMENT ON FUNCTION book_appointment(uuid, uuid, text, text, jsonb) IS 'Books a slot in one transaction: idempotency key, slot lock, notice and buffers, appointment (pending_payment when priced), pending payment, slot flag, stored response, audit row.';

-- seed_demo_data: the demo clinics get schedules instead of hand-made slots (the service generates
-- the slots); the people and their ids are 00010's.
CREATE OR REPLACE FUNCTION seed_demo_data(p_days integer DEFAULT 28) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_demo constant uuid[] := ARRAY['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222']::uuid[];
  v_schedules integer;
BEGIN
  IF p_days NOT BETWEEN 1 AND 366 THEN
    RAISE EXCEPTION 'p_days must be between 1 and 366, got %', p_days USING errcode = '22023';
  END IF;

  INSERT INTO clinics (id, name, slug, timezone) VALUES
    ('11111111-1111-4111-8111-111111111111', 'Harbor Family Clinic', 'harbor-family', 'America/New_York'),
    ('22222222-2222-4222-8222-222222222222', 'Northside Telehealth', 'northside-telehealth', 'Europe/Berlin')
  ON CONFLICT (id) DO NOTHING;

  INSERT INTO users (id, clinic_id, role, full_name, email, phone) VALUES
    ('a1000000-0000-4000-8000-000000000001', '11111111-1111-4111-8111-111111111111', 'practitioner', 'Dr. Ada Lovelace', 'ada@harbor.example', '+15550100001'),
    ('a1000000-0000-4000-8000-000000000002', '11111111-1111-4111-8111-111111111111', 'practitioner', 'Dr. Ben Carter', 'ben@harbor.example', '+15550100002'),
    ('a1000000-0000-4000-8000-000000000003', '11111111-1111-4111-8111-111111111111', 'clinic_admin', 'Hana Front-Desk', 'desk@harbor.example', NULL),
    ('b2000000-0000-4000-8000-000000000001', '22222222-2222-4222-8222-222222222222', 'practitioner', 'Dr. Clara Schmidt', 'clara@northside.example', '+4930555000001'),
    ('b2000000-0000-4000-8000-000000000002', '22222222-2222-4222-8222-222222222222', 'clinic_admin', 'Nils Admin', 'admin@northside.example', NULL)
  ON CONFLICT (id) DO NOTHING;

  INSERT INTO patients (id, clinic_id, full_name, email, phone, date_of_birth) VALUES
    ('a3000000-0000-4000-8000-000000000001', '11111111-1111-4111-8111-111111111111', 'Pat Demo', 'pat@patients.example', '+15550199001', '1985-04-12'),
    ('a3000000-0000-4000-8000-000000000002', '11111111-1111-4111-8111-111111111111', 'Sam Demo', 'sam@patients.example', '+15550199002', '1990-09-30'),
    ('a3000000-0000-4000-8000-000000000003', '11111111-1111-4111-8111-111111111111', 'Lee Demo', NULL, '+15550199003', NULL),
    ('b3000000-0000-4000-8000-000000000001', '22222222-2222-4222-8222-222222222222', 'Mia Demo', 'mia@patients.example', '+4915550199001', '1978-01-02'),
    ('b3000000-0000-4000-8000-000000000002', '22222222-2222-4222-8222-222222222222', 'Tom Demo', NULL, '+4915550199002', NULL)
  ON CONFLICT (id) DO NOTHING;

  -- Every day of the week, so the walkthrough finds slots tomorrow whatever today is. The zone is
  -- the clinic's (NULL): New York for Ada and Ben, Berlin for Clara.
  INSERT INTO practitioner_schedules (id, clinic_id, practitioner_id, valid_from, slot_minutes, horizon_days,
                                      visit_type, price_cents, currency)
  VALUES
    ('c1000000-0000-4000-8000-000000000001', '11111111-1111-4111-8111-111111111111', 'a1000000-0000-4000-8000-000000000001', '2025-01-06', 30, p_days, 'in_person', 5000, 'USD'),
    ('c1000000-0000-4000-8000-000000000002', '11111111-1111-4111-8111-111111111111', 'a1000000-0000-4000-8000-000000000002', '2025-01-06', 30, p_days, 'in_person', NULL, NULL),
    ('c2000000-0000-4000-8000-000000000001', '22222222-2222-4222-8222-222222222222', 'b2000000-0000-4000-8000-000000000001', '2025-01-06', 30, p_days, 'video', 4000, 'EUR')
  ON CONFLICT (id) DO UPDATE SET horizon_days = EXCLUDED.horizon_days;
  GET DIAGNOSTICS v_schedules = ROW_COUNT;
  INSERT INTO schedule_rules (id, clinic_id, schedule_id, weekday, start_time, end_time)
  SELECT ('c' || s.n || '100000-0000-4000-8000-' || lpad((s.k * 10 + d)::text, 12, '0'))::uuid, s.clinic_id, s.id, d,
         s.starts, s.ends
    FROM (VALUES
      (1, 1, '11111111-1111-4111-8111-111111111111'::uuid, 'c1000000-0000-4000-8000-000000000001'::uuid, time '09:00', time '12:00'),
      (1, 2, '11111111-1111-4111-8111-111111111111'::uuid, 'c1000000-0000-4000-8000-000000000002'::uuid, time '13:00', time '17:00'),
      (2, 1, '22222222-2222-4222-8222-222222222222'::uuid, 'c2000000-0000-4000-8000-000000000001'::uuid, time '08:00', time '12:00')
    ) AS s(n, k, clinic_id, id, starts, ends)
   CROSS JOIN generate_series(1, 7) AS d
  ON CONFLICT (id) DO NOTHING;

  -- 00010's hand-made demo slots (md5 ids) make way for the generated ones; booked ones stay.
  UPDATE appointment_slots SET status = 'withdrawn', is_available = false
   WHERE clinic_id = ANY (v_demo) AND schedule_id IS NULL AND status = 'open' AND appointment_id IS NULL;
  RETURN v_schedules;
END
$$;
COMMENT ON FUNCTION seed_demo_data(integer) IS 'Demo clinics, people and schedules reaching p_days ahead; idempotent. The service generates the slots (carebook dev does). Returns the number of schedules written.';

-- Availability search's two reads, called in one statement with the tenant context
-- (src/db/tenant.ts queryInContext). They must be functions that cannot be inlined (hence SET
-- search_path): PostgreSQL applies row-level security and checks table privileges when it plans a
-- statement, that is before the statement's own role switch; a function body is planned when it is
-- called, after it. EXECUTE for PUBLIC, as for the other entry points of 00016: the body still runs
-- with the switched role's privileges and policies.
CREATE FUNCTION clinic_timezone(p_clinic_id uuid) RETURNS TABLE (timezone text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, public
AS $$ SELECT c.timezone FROM clinics c WHERE c.id = p_clinic_id $$;
COMMENT ON FUNCTION clinic_timezone(uuid) IS 'The IANA zone of a clinic the caller may see (none: no row).';

CREATE FUNCTION available_slots(
  p_clinic_id uuid, p_from timestamptz, p_to timestamptz, p_practitioners uuid[], p_visit_type text,
  p_after_starts_at timestamptz, p_after_practitioner uuid, p_limit integer
) RETURNS TABLE (id uuid, practitioner_id uuid, starts_at double precision, ends_at double precision)
LANGUAGE sql STABLE
SET search_path = pg_catalog, public
AS $$
  SELECT s.id, s.practitioner_id, date_part('epoch', s.starts_at) * 1000, date_part('epoch', s.ends_at) * 1000
    FROM appointment_slots s
   WHERE s.clinic_id = p_clinic_id AND s.starts_at >= p_from AND s.starts_at < p_to AND s.is_available
     AND (p_practitioners IS NULL OR s.practitioner_id = ANY (p_practitioners))
     AND (p_visit_type IS NULL OR s.visit_type = p_visit_type)
     AND (p_after_starts_at IS NULL OR (s.starts_at, s.practitioner_id) > (p_after_starts_at, p_after_practitioner))
     AND NOT slot_within_notice(s) AND NOT slot_buffer_conflict(s)
   ORDER BY s.starts_at, s.practitioner_id
   LIMIT p_limit
$$;
COMMENT ON FUNCTION available_slots(uuid, timestamptz, timestamptz, uuid[], text, timestamptz, uuid, integer) IS 'Bookable slots of a clinic between two instants, in (starts_at, practitioner_id) order after a keyset cursor: the rows availability search groups by local date.';
GRANT EXECUTE ON FUNCTION clinic_timezone(uuid),
  available_slots(uuid, timestamptz, timestamptz, uuid[], text, timestamptz, uuid, integer) TO PUBLIC;


-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
CREATE OR REPLACE FUNCTION seed_demo_data(p_days integer DEFAULT 28) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_slots integer;
BEGIN
  IF p_days NOT BETWEEN 1 AND 366 THEN
    RAISE EXCEPTION 'p_days must be between 1 and 366, got %', p_days USING errcode = '22023';
  END IF;

  INSERT INTO clinics (id, name, slug, timezone) VALUES
    ('11111111-1111-4111-8111-111111111111', 'Harbor Family Clinic', 'harbor-family', 'America/New_York'),
    ('22222222-2222-4222-8222-222222222222', 'Northside Telehealth', 'northside-telehealth', 'Europe/Berlin')
  ON CONFLICT (id) DO NOTHING;

  INSERT INTO users (id, clinic_id, role, full_name, email, phone) VALUES
    ('a1000000-0000-4000-8000-000000000001', '11111111-1111-4111-8111-111111111111', 'practitioner', 'Dr. Ada Lovelace', 'ada@harbor.example', '+15550100001'),
    ('a1000000-0000-4000-8000-000000000002', '11111111-1111-4111-8111-111111111111', 'practitioner', 'Dr. Ben Carter', 'ben@harbor.example', '+15550100002'),
    ('a1000000-0000-4000-8000-000000000003', '11111111-1111-4111-8111-111111111111', 'clinic_admin', 'Hana Front-Desk', 'desk@harbor.example', NULL),
    ('b2000000-0000-4000-8000-000000000001', '22222222-2222-4222-8222-222222222222', 'practitioner', 'Dr. Clara Schmidt', 'clara@northside.example', '+4930555000001'),
    ('b2000000-0000-4000-8000-000000000002', '22222222-2222-4222-8222-222222222222', 'clinic_admin', 'Nils Admin', 'admin@northside.example', NULL)
  ON CONFLICT (id) DO NOTHING;

  INSERT INTO patients (id, clinic_id, full_name, email, phone, date_of_birth) VALUES
    ('a3000000-0000-4000-8000-000000000001', '11111111-1111-4111-8111-111111111111', 'Pat Demo', 'pat@patients.example', '+15550199001', '1985-04-12'),
    ('a3000000-0000-4000-8000-000000000002', '11111111-1111-4111-8111-111111111111', 'Sam Demo', 'sam@patients.example', '+15550199002', '1990-09-30'),
    ('a3000000-0000-4000-8000-000000000003', '11111111-1111-4111-8111-111111111111', 'Lee Demo', NULL, '+15550199003', NULL),
    ('b3000000-0000-4000-8000-000000000001', '22222222-2222-4222-8222-222222222222', 'Mia Demo', 'mia@patients.example', '+4915550199001', '1978-01-02'),
    ('b3000000-0000-4000-8000-000000000002', '22222222-2222-4222-8222-222222222222', 'Tom Demo', NULL, '+4915550199002', NULL)
  ON CONFLICT (id) DO NOTHING;

  -- Weekday mornings, 09:00–12:00 clinic time, 30-minute slots, from today on. Local dates are
  -- iterated and converted with AT TIME ZONE, so daylight-saving changes keep 09:00 at 09:00.
  WITH practitioner_plans (practitioner_id, visit_type, price_cents, currency) AS (
    VALUES
      ('a1000000-0000-4000-8000-000000000001'::uuid, 'in_person', 5000, 'USD'),
      ('a1000000-0000-4000-8000-000000000002'::uuid, 'in_person', NULL, NULL),
      ('b2000000-0000-4000-8000-000000000001'::uuid, 'video', 4000, 'EUR')
  ), candidate AS (
    SELECT u.clinic_id, p.practitioner_id, p.visit_type, p.price_cents, p.currency,
           ((d.local_day + time '09:00' + n.i * interval '30 minutes') AT TIME ZONE c.timezone) AS starts_at
    FROM practitioner_plans p
    JOIN users u ON u.id = p.practitioner_id
    JOIN clinics c ON c.id = u.clinic_id
    CROSS JOIN LATERAL (
      SELECT gs::date AS local_day
      FROM generate_series((now() AT TIME ZONE c.timezone)::date,
                           (now() AT TIME ZONE c.timezone)::date + (p_days - 1), interval '1 day') gs
      WHERE extract(isodow FROM gs) < 6
    ) d
    CROSS JOIN generate_series(0, 5) n(i)
  )
  INSERT INTO appointment_slots (id, clinic_id, practitioner_id, starts_at, ends_at, visit_type, price_cents, currency)
  SELECT md5('demo-slot:' || practitioner_id || ':' || starts_at)::uuid, clinic_id, practitioner_id,
         starts_at, starts_at + interval '30 minutes', visit_type, price_cents, currency
  FROM candidate
  WHERE starts_at > now()
  ON CONFLICT DO NOTHING;
  GET DIAGNOSTICS v_slots = ROW_COUNT;
  RETURN v_slots;
END
$$;
COMMENT ON FUNCTION seed_demo_data(integer) IS 'Demo clinics, people and the next p_days of slots; idempotent. Returns the number of slots added.';

CREATE OR REPLACE FUNCTION book_appointment(
  p_slot_id uuid,
  p_patient_id uuid,
  p_requested_by text,
  p_idempotency_key text,
  p_metadata jsonb DEFAULT '{}'
) RETURNS TABLE (response_status integer, response_body jsonb, replayed boolean)
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_claim record;
  v_slot appointment_slots%ROWTYPE;
  v_appointment_id uuid := gen_random_uuid();
  v_payment_id uuid;
  v_body jsonb;
  v_hold interval := make_interval(mins => coalesce(nullif(current_setting('carebook.hold_minutes', true), '')::integer, 15));
BEGIN
  SELECT * INTO v_claim FROM claim_booking_request('book', p_requested_by, p_idempotency_key,
    jsonb_build_object('slot_id', p_slot_id, 'patient_id', p_patient_id, 'metadata', coalesce(p_metadata, '{}')));
  IF v_claim.request_id IS NULL THEN
    RETURN QUERY SELECT v_claim.response_status, v_claim.response_body, true;
    RETURN;
  END IF;

  -- One booking at a time per patient, so the overlap check below cannot race.
  PERFORM pg_advisory_xact_lock(hashtextextended('carebook:patient:' || p_patient_id, 0));

  SELECT * INTO v_slot FROM appointment_slots WHERE id = p_slot_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no slot % in this clinic', p_slot_id USING errcode = 'CB002';
  END IF;
  IF NOT v_slot.is_available THEN
    RAISE EXCEPTION 'the slot is already taken' USING errcode = 'CB001', detail = 'Choose another slot.';
  END IF;
  IF v_slot.starts_at <= now() THEN
    RAISE EXCEPTION 'the slot has already started' USING errcode = 'CB001', detail = 'Choose a slot in the future.';
  END IF;
  PERFORM 1 FROM patients WHERE id = p_patient_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no patient % in this clinic', p_patient_id USING errcode = 'CB006';
  END IF;
  PERFORM 1 FROM appointments
   WHERE patient_id = p_patient_id AND status IN ('pending_payment', 'confirmed')
     AND tstzrange(starts_at, ends_at) && tstzrange(v_slot.starts_at, v_slot.ends_at);
  IF FOUND THEN
    RAISE EXCEPTION 'the patient already has an appointment at that time' USING errcode = 'CB007';
  END IF;

  INSERT INTO appointments (id, clinic_id, slot_id, patient_id, status, starts_at, ends_at, visit_type, notes,
                            created_by, hold_expires_at, video_room_name)
  VALUES (v_appointment_id, v_slot.clinic_id, v_slot.id, p_patient_id,
          CASE WHEN v_slot.price_cents IS NULL THEN 'confirmed' ELSE 'pending_payment' END,
          v_slot.starts_at, v_slot.ends_at, v_slot.visit_type, p_metadata ->> 'notes', p_requested_by,
          CASE WHEN v_slot.price_cents IS NOT NULL THEN now() + v_hold END,
          CASE WHEN v_slot.visit_type = 'video' THEN 'cb-' || replace(v_appointment_id::text, '-', '') END);
  IF v_slot.price_cents IS NOT NULL THEN
    INSERT INTO payments (clinic_id, appointment_id, patient_id, amount_cents, currency, status)
    VALUES (v_slot.clinic_id, v_appointment_id, p_patient_id, v_slot.price_cents, v_slot.currency, 'pending')
    RETURNING id INTO v_payment_id;
  END IF;
  UPDATE appointment_slots SET is_available = false, appointment_id = v_appointment_id WHERE id = v_slot.id;

  v_body := booking_response_body(v_appointment_id);
  UPDATE booking_requests SET response_status = 201, response_body = v_body, appointment_id = v_appointment_id
   WHERE id = v_claim.request_id;
  PERFORM audit.record('appointment.book', v_slot.clinic_id, 'appointments', v_appointment_id,
    jsonb_build_object('slot_id', v_slot.id, 'payment_id', v_payment_id, 'idempotency_key', p_idempotency_key));
  RETURN QUERY SELECT 201, v_body, false;
END
$$;
COMMENT ON FUNCTION book_appointment(uuid, uuid, text, text, jsonb) IS 'Books a slot in one transaction: idempotency key, slot lock, appointment (pending_payment when priced), pending payment, slot flag, stored response, audit row.';

DROP TRIGGER IF EXISTS _901_audit_generated ON appointment_slots;
DROP TRIGGER IF EXISTS _900_audit_insert ON appointment_slots;
DROP TRIGGER IF EXISTS _900_audit ON appointment_slots;
CREATE TRIGGER _900_audit AFTER INSERT OR UPDATE OR DELETE ON appointment_slots
  FOR EACH ROW EXECUTE FUNCTION audit.tg_audit__row_change();
DROP FUNCTION IF EXISTS audit.tg_appointment_slots__generated();
DROP FUNCTION IF EXISTS available_slots(uuid, timestamptz, timestamptz, uuid[], text, timestamptz, uuid, integer);
DROP FUNCTION IF EXISTS clinic_timezone(uuid);
DROP FUNCTION IF EXISTS slot_buffer_conflict(appointment_slots);
DROP FUNCTION IF EXISTS slot_within_notice(appointment_slots);
-- Slots that only the new statuses or columns describe cannot survive the old schema.
UPDATE appointment_slots SET status = 'withdrawn' WHERE status = 'needs_review';
-- (Privileges on the dropped columns go with them.)
REVOKE UPDATE (ends_at, visit_type, price_cents, currency, schedule_id, status) ON appointment_slots FROM carebook_worker;
REVOKE UPDATE (ends_at, visit_type, price_cents, currency, schedule_id) ON appointment_slots FROM carebook_app, carebook_admin;
REVOKE INSERT (id, clinic_id, practitioner_id, starts_at, ends_at, visit_type, price_cents, currency, schedule_id)
  ON appointment_slots FROM carebook_worker;
COMMENT ON COLUMN appointment_slots.status IS 'open, or withdrawn (taken off the schedule; kept for history).';
COMMENT ON COLUMN appointment_slots.schedule_id IS 'Reserved for slots generated from weekly schedules (not yet used).';
ALTER TABLE appointment_slots DROP CONSTRAINT IF EXISTS appointment_slots_rule_fkey;
ALTER TABLE appointment_slots DROP CONSTRAINT IF EXISTS appointment_slots_schedule_fkey;
ALTER TABLE appointment_slots DROP CONSTRAINT IF EXISTS appointment_slots_policy_bounds;
ALTER TABLE appointment_slots DROP CONSTRAINT appointment_slots_status_check;
ALTER TABLE appointment_slots ADD CONSTRAINT appointment_slots_status_check CHECK (status IN ('open', 'withdrawn'));
ALTER TABLE appointment_slots
  DROP COLUMN IF EXISTS buffer_after_minutes,
  DROP COLUMN IF EXISTS buffer_before_minutes,
  DROP COLUMN IF EXISTS min_notice_minutes,
  DROP COLUMN IF EXISTS tzdata_version,
  DROP COLUMN IF EXISTS local_date,
  DROP COLUMN IF EXISTS rule_id;
DROP TABLE IF EXISTS clinic_holidays;
DROP TABLE IF EXISTS time_off;
DROP TABLE IF EXISTS schedule_exceptions;
DROP TABLE IF EXISTS schedule_rules;
DROP TABLE IF EXISTS practitioner_schedules;
