-- Row-level security probes, run by the CI dry-run and the test suite after the migrations.
-- Builds two clinics A and B inside a transaction, checks what each role can see and change,
-- and rolls everything back. Any failed probe raises; a clean run ends with "rls probes passed".
-- Must run as a superuser or the schema owner (it creates the probe rows before switching roles).
-- Run by hand: psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f docs/migrations/rls_probes.sql

BEGIN;

DO $$
DECLARE
  v_a uuid := gen_random_uuid();
  v_b uuid := gen_random_uuid();
  v_doc_a uuid := gen_random_uuid();
  v_doc_b uuid := gen_random_uuid();
  v_pat_a uuid := gen_random_uuid();
  v_pat_a2 uuid := gen_random_uuid();
  v_pat_b uuid := gen_random_uuid();
  v_slot_a uuid := gen_random_uuid();
  v_slot_b uuid := gen_random_uuid();
  v_count bigint;
  v_refused boolean;
  v_table text;
BEGIN
  INSERT INTO clinics (id, name, slug) VALUES
    (v_a, 'Probe A', 'probe-a-' || left(v_a::text, 8)), (v_b, 'Probe B', 'probe-b-' || left(v_b::text, 8));
  INSERT INTO users (id, clinic_id, role, full_name, email) VALUES
    (v_doc_a, v_a, 'practitioner', 'Dr A', 'a@probe.example'), (v_doc_b, v_b, 'practitioner', 'Dr B', 'b@probe.example');
  INSERT INTO patients (id, clinic_id, full_name) VALUES
    (v_pat_a, v_a, 'Patient A1'), (v_pat_a2, v_a, 'Patient A2'), (v_pat_b, v_b, 'Patient B');
  INSERT INTO appointment_slots (id, clinic_id, practitioner_id, starts_at, ends_at) VALUES
    (v_slot_a, v_a, v_doc_a, now() + interval '1 day', now() + interval '1 day 30 minutes'),
    (v_slot_b, v_b, v_doc_b, now() + interval '1 day', now() + interval '1 day 30 minutes');

  -- Probe 1: staff of clinic A see clinic A's rows only.
  PERFORM set_config('role', 'carebook_app', true);
  PERFORM set_config('carebook.clinic_id', v_a::text, true);
  PERFORM set_config('carebook.role', 'staff', true);
  PERFORM set_config('carebook.user_id', 'probe-staff-a', true);
  FOREACH v_table IN ARRAY ARRAY['users', 'patients', 'appointment_slots'] LOOP
    EXECUTE format('SELECT count(*) FROM %I WHERE clinic_id = $1', v_table) INTO v_count USING v_b;
    IF v_count <> 0 THEN RAISE EXCEPTION 'probe 1: clinic A staff see % row(s) of clinic B in %', v_count, v_table; END IF;
    EXECUTE format('SELECT count(*) FROM %I WHERE clinic_id = $1', v_table) INTO v_count USING v_a;
    IF v_count = 0 THEN RAISE EXCEPTION 'probe 1: clinic A staff do not see their own %', v_table; END IF;
  END LOOP;
  SELECT count(*) INTO v_count FROM clinics;
  IF v_count <> 1 THEN RAISE EXCEPTION 'probe 1: clinic A staff see % clinics', v_count; END IF;

  -- Probe 2: they cannot insert into clinic B …
  v_refused := false;
  BEGIN
    INSERT INTO patients (clinic_id, full_name) VALUES (v_b, 'Intruder');
  EXCEPTION WHEN insufficient_privilege THEN v_refused := true;
  END;
  IF NOT v_refused THEN RAISE EXCEPTION 'probe 2: clinic A staff inserted a patient into clinic B'; END IF;

  -- … nor update clinic B's rows (RLS hides them: zero rows change) …
  UPDATE appointment_slots SET status = 'withdrawn', is_available = false WHERE id = v_slot_b;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  IF v_count <> 0 THEN RAISE EXCEPTION 'probe 2: clinic A staff updated a slot of clinic B'; END IF;

  -- … nor create rows that belong to clinic B.
  v_refused := false;
  BEGIN
    INSERT INTO appointment_slots (clinic_id, practitioner_id, starts_at, ends_at)
      VALUES (v_b, v_doc_b, now() + interval '2 days', now() + interval '2 days 30 minutes');
  EXCEPTION WHEN insufficient_privilege THEN v_refused := true;
  END;
  IF NOT v_refused THEN RAISE EXCEPTION 'probe 2: clinic A staff created a slot in clinic B'; END IF;

  -- Probe 3: a patient sees only themself among patients.
  PERFORM set_config('carebook.role', 'patient', true);
  PERFORM set_config('carebook.patient_id', v_pat_a::text, true);
  SELECT count(*) INTO v_count FROM patients;
  IF v_count <> 1 THEN RAISE EXCEPTION 'probe 3: a patient sees % patients', v_count; END IF;

  -- Probe 4: a transaction that sets nothing sees nothing.
  PERFORM set_config('carebook.clinic_id', '', true);
  PERFORM set_config('carebook.role', '', true);
  PERFORM set_config('carebook.patient_id', '', true);
  PERFORM set_config('carebook.user_id', '', true);
  FOREACH v_table IN ARRAY ARRAY['clinics', 'users', 'patients', 'appointment_slots', 'appointments', 'payments',
                                 'booking_requests', 'integrations'] LOOP
    EXECUTE format('SELECT count(*) FROM %I', v_table) INTO v_count;
    IF v_count <> 0 THEN RAISE EXCEPTION 'probe 4: carebook_app without settings sees % row(s) of %', v_count, v_table; END IF;
  END LOOP;
  v_refused := false;
  BEGIN
    PERFORM 1 FROM webhook_events LIMIT 1;
  EXCEPTION WHEN insufficient_privilege THEN v_refused := true;
  END;
  IF NOT v_refused THEN RAISE EXCEPTION 'probe 4: carebook_app may read webhook_events'; END IF;

  -- Probe 5: carebook_readonly reads its clinic and can write nothing.
  PERFORM set_config('role', 'carebook_readonly', true);
  PERFORM set_config('carebook.clinic_id', v_a::text, true);
  SELECT count(*) INTO v_count FROM patients WHERE clinic_id = v_a;
  IF v_count <> 2 THEN RAISE EXCEPTION 'probe 5: readonly sees % of clinic A''s 2 patients', v_count; END IF;
  FOREACH v_table IN ARRAY ARRAY['clinics', 'patients', 'appointment_slots', 'appointments', 'payments'] LOOP
    v_refused := false;
    BEGIN
      EXECUTE format('UPDATE %I SET updated_at = now()', v_table);
    EXCEPTION WHEN insufficient_privilege THEN v_refused := true;
    END;
    IF NOT v_refused THEN RAISE EXCEPTION 'probe 5: carebook_readonly could update %', v_table; END IF;
  END LOOP;
  v_refused := false;
  BEGIN
    INSERT INTO patients (clinic_id, full_name) VALUES (v_a, 'Written by readonly');
  EXCEPTION WHEN insufficient_privilege THEN v_refused := true;
  END;
  IF NOT v_refused THEN RAISE EXCEPTION 'probe 5: carebook_readonly inserted a patient'; END IF;

  -- Probe 6: the audit trail is append-only for the application.
  PERFORM set_config('role', 'carebook_app', true);
  v_refused := false;
  BEGIN
    DELETE FROM audit.audit_log;
  EXCEPTION WHEN insufficient_privilege THEN v_refused := true;
  END;
  IF NOT v_refused THEN RAISE EXCEPTION 'probe 6: carebook_app may delete audit rows'; END IF;

  RAISE NOTICE 'rls probes passed';
END
$$;

ROLLBACK;
