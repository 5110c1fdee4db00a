-- 00008 — row-level security: clinics are kept apart by the database, not by application code.
-- Each transaction of the service does SET LOCAL ROLE <carebook_*> and sets carebook.clinic_id,
-- carebook.user_id, carebook.patient_id and carebook.role with set_config(…, true); the policies
-- below read those settings. A connection that sets nothing sees nothing (the settings are NULL,
-- and NULL never equals a clinic_id). FORCE makes a non-superuser table owner obey the policies
-- too. Grants come with the policies: together they say who may touch which columns of whose rows.
--   carebook_app       rows of its own clinic; patients only their own patient, appointments, payments
--   carebook_readonly  like carebook_app for reading; no write grants at all
--   carebook_worker    every clinic (service account), only the columns its handlers change
--   carebook_admin     everything (platform administrators)

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE FUNCTION app_clinic_id() RETURNS uuid LANGUAGE sql STABLE AS
  $$ SELECT nullif(current_setting('carebook.clinic_id', true), '')::uuid $$;
COMMENT ON FUNCTION app_clinic_id() IS 'carebook.clinic_id of this transaction, or NULL. (An ended set_config leaves '''', hence nullif.)';
CREATE FUNCTION app_patient_id() RETURNS uuid LANGUAGE sql STABLE AS
  $$ SELECT nullif(current_setting('carebook.patient_id', true), '')::uuid $$;
COMMENT ON FUNCTION app_patient_id() IS 'carebook.patient_id of this transaction (patients acting for themselves), or NULL.';
CREATE FUNCTION app_user_id() RETURNS text LANGUAGE sql STABLE AS
  $$ SELECT nullif(current_setting('carebook.user_id', true), '') $$;
COMMENT ON FUNCTION app_user_id() IS 'carebook.user_id of this transaction: the JWT subject, or NULL.';
CREATE FUNCTION app_role() RETURNS text LANGUAGE sql STABLE AS
  $$ SELECT nullif(current_setting('carebook.role', true), '') $$;
COMMENT ON FUNCTION app_role() IS 'carebook.role of this transaction: patient | staff | clinic_admin | platform_admin | service, or NULL.';

-- clinics -------------------------------------------------------------------------------------
ALTER TABLE clinics ENABLE ROW LEVEL SECURITY;
ALTER TABLE clinics FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_member_select ON clinics FOR SELECT TO carebook_app, carebook_readonly
  USING (id = app_clinic_id());
CREATE POLICY clinic_admin_update ON clinics FOR UPDATE TO carebook_app
  USING (id = app_clinic_id() AND app_role() = 'clinic_admin')
  WITH CHECK (id = app_clinic_id());
CREATE POLICY service_select ON clinics FOR SELECT TO carebook_worker USING (true);
CREATE POLICY platform_admin_all ON clinics FOR ALL TO carebook_admin USING (true) WITH CHECK (true);
GRANT SELECT ON clinics TO carebook_app, carebook_readonly, carebook_worker, carebook_admin;
GRANT UPDATE (name, timezone) ON clinics TO carebook_app;
GRANT INSERT (id, name, slug, timezone), UPDATE (name, slug, timezone) ON clinics TO carebook_admin;

-- users ---------------------------------------------------------------------------------------
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_member_select ON users FOR SELECT TO carebook_app, carebook_readonly
  USING (clinic_id = app_clinic_id());
CREATE POLICY clinic_admin_insert ON users FOR INSERT TO carebook_app
  WITH CHECK (clinic_id = app_clinic_id() AND app_role() = 'clinic_admin');
CREATE POLICY clinic_admin_update ON users FOR UPDATE TO carebook_app
  USING (clinic_id = app_clinic_id() AND app_role() = 'clinic_admin')
  WITH CHECK (clinic_id = app_clinic_id());
CREATE POLICY service_select ON users FOR SELECT TO carebook_worker USING (true);
CREATE POLICY platform_admin_all ON users FOR ALL TO carebook_admin USING (true) WITH CHECK (true);
GRANT SELECT ON users TO carebook_app, carebook_readonly, carebook_worker, carebook_admin;
GRANT INSERT (id, clinic_id, role, full_name, email, phone), UPDATE (role, full_name, email, phone)
  ON users TO carebook_app, carebook_admin;

-- patients ------------------------------------------------------------------------------------
ALTER TABLE patients ENABLE ROW LEVEL SECURITY;
ALTER TABLE patients FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_staff_select ON patients FOR SELECT TO carebook_app, carebook_readonly
  USING (clinic_id = app_clinic_id() AND app_role() IS DISTINCT FROM 'patient');
CREATE POLICY patient_own_select ON patients FOR SELECT TO carebook_app
  USING (clinic_id = app_clinic_id() AND app_role() = 'patient' AND id = app_patient_id());
CREATE POLICY clinic_staff_insert ON patients FOR INSERT TO carebook_app
  WITH CHECK (clinic_id = app_clinic_id() AND app_role() IN ('staff', 'clinic_admin'));
CREATE POLICY clinic_staff_update ON patients FOR UPDATE TO carebook_app
  USING (clinic_id = app_clinic_id() AND app_role() IN ('staff', 'clinic_admin'))
  WITH CHECK (clinic_id = app_clinic_id());
CREATE POLICY service_select ON patients FOR SELECT TO carebook_worker USING (true);
CREATE POLICY platform_admin_all ON patients FOR ALL TO carebook_admin USING (true) WITH CHECK (true);
GRANT SELECT ON patients TO carebook_app, carebook_readonly, carebook_worker, carebook_admin;
GRANT INSERT (id, clinic_id, full_name, email, phone, date_of_birth),
      UPDATE (full_name, email, phone, date_of_birth) ON patients TO carebook_app, carebook_admin;

-- appointment_slots ---------------------------------------------------------------------------
ALTER TABLE appointment_slots ENABLE ROW LEVEL SECURITY;
ALTER TABLE appointment_slots FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_member_select ON appointment_slots FOR SELECT TO carebook_app, carebook_readonly
  USING (clinic_id = app_clinic_id());
CREATE POLICY clinic_staff_insert ON appointment_slots FOR INSERT TO carebook_app
  WITH CHECK (clinic_id = app_clinic_id() AND app_role() IN ('staff', 'clinic_admin'));
-- Patients update slots too, but only through the booking procedures (is_available, appointment_id).
CREATE POLICY clinic_member_update ON appointment_slots FOR UPDATE TO carebook_app
  USING (clinic_id = app_clinic_id()) WITH CHECK (clinic_id = app_clinic_id());
CREATE POLICY service_all ON appointment_slots FOR ALL TO carebook_worker USING (true) WITH CHECK (true);
CREATE POLICY platform_admin_all ON appointment_slots FOR ALL TO carebook_admin USING (true) WITH CHECK (true);
GRANT SELECT ON appointment_slots TO carebook_app, carebook_readonly, carebook_worker, carebook_admin;
GRANT INSERT (id, clinic_id, practitioner_id, starts_at, ends_at, visit_type, price_cents, currency, schedule_id)
  ON appointment_slots TO carebook_app, carebook_admin;
GRANT UPDATE (is_available, appointment_id, status) ON appointment_slots TO carebook_app, carebook_admin;
GRANT UPDATE (is_available, appointment_id) ON appointment_slots TO carebook_worker;

-- appointments --------------------------------------------------------------------------------
ALTER TABLE appointments ENABLE ROW LEVEL SECURITY;
ALTER TABLE appointments FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_member_select ON appointments FOR SELECT TO carebook_app, carebook_readonly
  USING (clinic_id = app_clinic_id()
         AND (app_role() IS DISTINCT FROM 'patient' OR patient_id = app_patient_id()));
CREATE POLICY clinic_member_insert ON appointments FOR INSERT TO carebook_app
  WITH CHECK (clinic_id = app_clinic_id()
              AND (app_role() IS DISTINCT FROM 'patient' OR patient_id = app_patient_id()));
CREATE POLICY clinic_member_update ON appointments FOR UPDATE TO carebook_app
  USING (clinic_id = app_clinic_id()
         AND (app_role() IS DISTINCT FROM 'patient' OR patient_id = app_patient_id()))
  WITH CHECK (clinic_id = app_clinic_id());
CREATE POLICY service_all ON appointments FOR ALL TO carebook_worker USING (true) WITH CHECK (true);
CREATE POLICY platform_admin_all ON appointments FOR ALL TO carebook_admin USING (true) WITH CHECK (true);
GRANT SELECT ON appointments TO carebook_app, carebook_readonly, carebook_worker, carebook_admin;
GRANT INSERT (id, clinic_id, slot_id, patient_id, status, starts_at, ends_at, visit_type, notes,
              created_by, hold_expires_at, video_room_name)
  ON appointments TO carebook_app, carebook_admin;
GRANT UPDATE (slot_id, status, starts_at, ends_at, hold_expires_at, patient_confirmed_at, cancelled_at,
              cancellation_reason)
  ON appointments TO carebook_app, carebook_worker, carebook_admin;
GRANT UPDATE (video_started_at, video_ended_at) ON appointments TO carebook_worker, carebook_admin;

-- payments ------------------------------------------------------------------------------------
ALTER TABLE payments ENABLE ROW LEVEL SECURITY;
ALTER TABLE payments FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_member_select ON payments FOR SELECT TO carebook_app, carebook_readonly
  USING (clinic_id = app_clinic_id()
         AND (app_role() IS DISTINCT FROM 'patient' OR patient_id = app_patient_id()));
CREATE POLICY clinic_member_insert ON payments FOR INSERT TO carebook_app
  WITH CHECK (clinic_id = app_clinic_id()
              AND (app_role() IS DISTINCT FROM 'patient' OR patient_id = app_patient_id()));
CREATE POLICY clinic_member_update ON payments FOR UPDATE TO carebook_app
  USING (clinic_id = app_clinic_id()
         AND (app_role() IS DISTINCT FROM 'patient' OR patient_id = app_patient_id()))
  WITH CHECK (clinic_id = app_clinic_id());
CREATE POLICY service_all ON payments FOR ALL TO carebook_worker USING (true) WITH CHECK (true);
CREATE POLICY platform_admin_all ON payments FOR ALL TO carebook_admin USING (true) WITH CHECK (true);
GRANT SELECT ON payments TO carebook_app, carebook_readonly, carebook_worker, carebook_admin;
GRANT INSERT (id, clinic_id, appointment_id, patient_id, amount_cents, currency, status)
  ON payments TO carebook_app, carebook_admin;
GRANT UPDATE (status, failure_reason) ON payments TO carebook_app, carebook_admin;
GRANT UPDATE (status, failure_reason, provider_payment_id) ON payments TO carebook_worker;

-- booking_requests: a client sees only its own idempotency records ----------------------------
ALTER TABLE booking_requests ENABLE ROW LEVEL SECURITY;
ALTER TABLE booking_requests FORCE ROW LEVEL SECURITY;
CREATE POLICY client_own_all ON booking_requests FOR ALL TO carebook_app
  USING (clinic_id = app_clinic_id() AND client_id = app_user_id())
  WITH CHECK (clinic_id = app_clinic_id() AND client_id = app_user_id());
CREATE POLICY service_all ON booking_requests FOR ALL TO carebook_worker USING (true) WITH CHECK (true);
CREATE POLICY platform_admin_select ON booking_requests FOR SELECT TO carebook_admin USING (true);
GRANT SELECT, INSERT (id, clinic_id, client_id, idempotency_key, operation, request_fingerprint,
                      response_status, response_body, appointment_id),
      UPDATE (response_status, response_body, appointment_id)
  ON booking_requests TO carebook_app;
GRANT SELECT, DELETE ON booking_requests TO carebook_worker;
GRANT SELECT ON booking_requests TO carebook_admin;

-- integrations --------------------------------------------------------------------------------
ALTER TABLE integrations ENABLE ROW LEVEL SECURITY;
ALTER TABLE integrations FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_admin_select ON integrations FOR SELECT TO carebook_app
  USING (clinic_id = app_clinic_id() AND app_role() = 'clinic_admin');
CREATE POLICY service_select ON integrations FOR SELECT TO carebook_worker USING (true);
CREATE POLICY platform_admin_all ON integrations FOR ALL TO carebook_admin USING (true) WITH CHECK (true);
GRANT SELECT ON integrations TO carebook_app, carebook_worker, carebook_admin;
GRANT INSERT (id, provider, clinic_id, name), UPDATE (clinic_id, name) ON integrations TO carebook_admin;

-- webhook_events: no clinic can see provider traffic; the service and admins can -------------
ALTER TABLE webhook_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_events FORCE ROW LEVEL SECURITY;
CREATE POLICY service_all ON webhook_events FOR ALL TO carebook_worker USING (true) WITH CHECK (true);
CREATE POLICY platform_admin_all ON webhook_events FOR ALL TO carebook_admin USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE ON webhook_events TO carebook_worker;
GRANT SELECT, UPDATE (status, attempts, error, processed_at, last_attempt_at) ON webhook_events TO carebook_admin;

-- audit.audit_log: append-only through the SECURITY DEFINER functions of 00007 ---------------
ALTER TABLE audit.audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit.audit_log FORCE ROW LEVEL SECURITY;
-- Only the owner holds INSERT (nobody is granted it), so this admits the definer functions alone.
CREATE POLICY audit_writer_insert ON audit.audit_log FOR INSERT WITH CHECK (true);
CREATE POLICY clinic_admin_select ON audit.audit_log FOR SELECT TO carebook_app
  USING (clinic_id = app_clinic_id() AND app_role() = 'clinic_admin');
CREATE POLICY platform_admin_select ON audit.audit_log FOR SELECT TO carebook_admin USING (true);
GRANT USAGE ON SCHEMA audit TO carebook_app, carebook_worker, carebook_admin;
GRANT SELECT ON audit.audit_log TO carebook_app, carebook_admin;
GRANT EXECUTE ON FUNCTION audit.record(text, uuid, text, uuid, jsonb, text)
  TO carebook_app, carebook_worker, carebook_admin;

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
DO $$
DECLARE
  v_policy record;
  v_table text;
BEGIN
  FOR v_policy IN
    SELECT schemaname, tablename, policyname FROM pg_policies
    WHERE (schemaname = 'public' AND tablename IN ('clinics', 'users', 'patients', 'appointment_slots',
             'appointments', 'payments', 'booking_requests', 'integrations', 'webhook_events'))
       OR (schemaname = 'audit' AND tablename = 'audit_log')
  LOOP
    EXECUTE format('DROP POLICY %I ON %I.%I', v_policy.policyname, v_policy.schemaname, v_policy.tablename);
  END LOOP;
  FOREACH v_table IN ARRAY ARRAY['public.clinics', 'public.users', 'public.patients', 'public.appointment_slots',
      'public.appointments', 'public.payments', 'public.booking_requests', 'public.integrations',
      'public.webhook_events', 'audit.audit_log'] LOOP
    EXECUTE format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY', v_table);
    EXECUTE format('ALTER TABLE %s DISABLE ROW LEVEL SECURITY', v_table);
    EXECUTE format('REVOKE ALL ON TABLE %s FROM carebook_app, carebook_readonly, carebook_worker, carebook_admin', v_table);
  END LOOP;
END
$$;
REVOKE EXECUTE ON FUNCTION audit.record(text, uuid, text, uuid, jsonb, text)
  FROM carebook_app, carebook_worker, carebook_admin;
REVOKE USAGE ON SCHEMA audit FROM carebook_app, carebook_worker, carebook_admin;
DROP FUNCTION IF EXISTS app_role();
DROP FUNCTION IF EXISTS app_user_id();
DROP FUNCTION IF EXISTS app_patient_id();
DROP FUNCTION IF EXISTS app_clinic_id();
