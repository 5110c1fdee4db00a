-- Smoke tests run after the migrations in the CI dry-run (`npm run db:dry-run`) and by the test
-- suite. Each check raises on failure; a clean run prints nothing but "smoke tests passed".
-- Run by hand: psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f docs/migrations/smoke_tests.sql

-- Key tables exist and answer.
SELECT 1 FROM clinics LIMIT 1;
SELECT 1 FROM users LIMIT 1;
SELECT 1 FROM patients LIMIT 1;
SELECT 1 FROM appointment_slots LIMIT 1;
SELECT 1 FROM appointments LIMIT 1;
SELECT 1 FROM payments LIMIT 1;
SELECT 1 FROM booking_requests LIMIT 1;
SELECT 1 FROM integrations LIMIT 1;
SELECT 1 FROM webhook_events LIMIT 1;
SELECT 1 FROM audit.audit_log LIMIT 1;

DO $$
DECLARE
  v_missing text;
BEGIN
  -- Every table of the application schemas has row-level security enabled and forced.
  SELECT string_agg(format('%I.%I', n.nspname, c.relname), ', ') INTO v_missing
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname IN ('public', 'audit') AND c.relkind IN ('r', 'p')
    AND NOT (c.relrowsecurity AND c.relforcerowsecurity);
  IF v_missing IS NOT NULL THEN
    RAISE EXCEPTION 'tables without enabled and forced row-level security: %', v_missing;
  END IF;

  -- The roles the service switches to exist, and none of them bypasses RLS.
  SELECT string_agg(r, ', ') INTO v_missing
  FROM unnest(ARRAY['carebook_app', 'carebook_worker', 'carebook_readonly', 'carebook_admin']) r
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r AND NOT rolbypassrls AND NOT rolsuper);
  IF v_missing IS NOT NULL THEN
    RAISE EXCEPTION 'missing roles (or roles that bypass RLS): %', v_missing;
  END IF;

  -- The guarantees booking relies on are in place.
  SELECT string_agg(name, ', ') INTO v_missing
  FROM unnest(ARRAY['appointment_slots_no_overlap', 'appointments_patient_no_overlap',
                    'webhook_events_webhook_id_event_id_key']) name
  WHERE NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = name);
  IF v_missing IS NOT NULL THEN
    RAISE EXCEPTION 'missing constraints: %', v_missing;
  END IF;
  IF to_regclass('public.appointments_one_active_per_slot') IS NULL THEN
    RAISE EXCEPTION 'missing index appointments_one_active_per_slot';
  END IF;

  -- Every table documents itself (comment on table).
  SELECT string_agg(format('%I.%I', n.nspname, c.relname), ', ') INTO v_missing
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname IN ('public', 'audit') AND c.relkind = 'r' AND obj_description(c.oid, 'pg_class') IS NULL;
  IF v_missing IS NOT NULL THEN
    RAISE EXCEPTION 'tables without a comment: %', v_missing;
  END IF;
  RAISE NOTICE 'smoke tests passed';
END
$$;
