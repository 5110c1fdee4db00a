-- 00016 — hardening: provider events stay inside the clinic of the account they came through; a
-- provider request is stored once however many events it carries; audit.record checks its caller.
--   * integrations.platform_wide makes the platform-wide accounts explicit (NULL clinic alone
--     could be a forgotten value). The handlers of 00013 are replaced by versions that take the
--     integration and touch only rows of its clinic: an event through clinic A's account that
--     names clinic B's payment, room or patient is recorded (note, audit row) and ignored.
--   * webhook_requests holds each verified request's raw body, signed headers and URL (a replay
--     verifies them again); events link to it. A WhatsApp batch of 9,000 statuses was 9,000 copies
--     of its 935 KB body. Existing events each get a request row of their own (ids reused).
--   * audit.record (SECURITY DEFINER) refuses a clinic id other than the caller's, unless the
--     caller is the service (carebook_worker) or a platform admin (carebook_admin).
--   * carebook_readonly may read the migration history, so that /readyz and `carebook status`
--     work with a least-privilege (NOINHERIT) login.

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '120s';

GRANT USAGE ON SCHEMA carebook_migrations TO carebook_readonly;
GRANT SELECT ON carebook_migrations.pgmigrations, carebook_migrations.checksums TO carebook_readonly;

-- The one-statement calls of src/db/tenant.ts (queryInContext) are checked for EXECUTE on the
-- function they call before their set_config('role', …) has run, that is as the login itself; a
-- NOINHERIT service login holds no privilege of its own. So these SECURITY INVOKER entry points
-- are executable by PUBLIC, which grants nothing: their bodies run with the privileges and
-- row-level security of the role the statement switched to, and a session that never switched is
-- refused by the first table inside.
GRANT EXECUTE ON FUNCTION book_appointment(uuid, uuid, text, text, jsonb),
  reschedule_appointment(uuid, uuid, text, text), cancel_appointment(uuid, text, text),
  claim_webhook_events(text, integer, integer), release_webhook_events(text, uuid[]), webhook_queue_stats(),
  ingest_webhook_events(uuid, text, jsonb, bytea, jsonb, text, text, boolean) TO PUBLIC;

-- integrations: who owns an account, explicitly ------------------------------------------------
ALTER TABLE integrations ADD COLUMN platform_wide boolean NOT NULL DEFAULT false;
UPDATE integrations SET platform_wide = (clinic_id IS NULL);
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE integrations ADD CONSTRAINT integrations_owner_explicit CHECK ((clinic_id IS NULL) = platform_wide);
GRANT INSERT (platform_wide), UPDATE (platform_wide) ON integrations TO carebook_admin;
COMMENT ON COLUMN integrations.platform_wide IS 'True for an account the platform runs for every clinic (clinic_id NULL); its events may touch any clinic, one clinic at a time. False: only rows of clinic_id.';

-- webhook_requests: one row per verified provider request ----------------------------------------
CREATE TABLE webhook_requests (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  webhook_id uuid NOT NULL REFERENCES integrations (id),
  received_at timestamptz NOT NULL DEFAULT now(),
  raw_body bytea NOT NULL,
  signed_headers jsonb NOT NULL DEFAULT '{}',
  request_url text NOT NULL
);
ALTER TABLE webhook_requests ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_requests FORCE ROW LEVEL SECURITY;
CREATE POLICY service_all ON webhook_requests FOR ALL TO carebook_worker USING (true) WITH CHECK (true);
CREATE POLICY platform_admin_select ON webhook_requests FOR SELECT TO carebook_admin USING (true);
GRANT SELECT, INSERT (id, webhook_id, raw_body, signed_headers, request_url), DELETE ON webhook_requests TO carebook_worker;
GRANT SELECT ON webhook_requests TO carebook_admin;
COMMENT ON TABLE webhook_requests IS 'Each verified provider request once: the body exactly as received, the signature headers and the public URL, so a replay can verify its events again.';
COMMENT ON COLUMN webhook_requests.request_url IS 'The public URL the provider called (Twilio signs it).';

-- squawk-ignore adding-foreign-key-constraint
ALTER TABLE webhook_events ADD COLUMN request_id uuid REFERENCES webhook_requests (id);
INSERT INTO webhook_requests (id, webhook_id, received_at, raw_body, signed_headers, request_url)
SELECT id, webhook_id, received_at, raw_body, signed_headers, request_url FROM webhook_events;
UPDATE webhook_events SET request_id = id;
-- squawk-ignore adding-not-nullable-field
ALTER TABLE webhook_events ALTER COLUMN request_id SET NOT NULL;
ALTER TABLE webhook_events DROP COLUMN raw_body, DROP COLUMN signed_headers, DROP COLUMN request_url;
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX webhook_events_request_idx ON webhook_events (request_id);
COMMENT ON COLUMN webhook_events.request_id IS 'The provider request this event came in (its raw body and signature headers).';

CREATE OR REPLACE FUNCTION ingest_webhook_events(
  p_webhook_id uuid, p_provider text, p_events jsonb, p_raw_body bytea, p_signed_headers jsonb, p_request_url text,
  p_signature text, p_notify boolean
) RETURNS TABLE (inserted integer, duplicates integer)
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_request uuid := gen_random_uuid();
  v_inserted integer;
  v_total integer := jsonb_array_length(p_events);
BEGIN
  INSERT INTO webhook_requests (id, webhook_id, raw_body, signed_headers, request_url)
  VALUES (v_request, p_webhook_id, p_raw_body, p_signed_headers, p_request_url);
  INSERT INTO webhook_events (webhook_id, provider, event_id, event_type, payload, idempotency_key, signature, request_id)
  SELECT p_webhook_id, p_provider, e.event_id, e.event_type, e.payload, e.idempotency_key, p_signature, v_request
    FROM jsonb_to_recordset(p_events) AS e(event_id text, event_type text, payload jsonb, idempotency_key text)
  ON CONFLICT (webhook_id, event_id) DO NOTHING;
  GET DIAGNOSTICS v_inserted = ROW_COUNT;
  IF v_inserted = 0 THEN
    DELETE FROM webhook_requests WHERE id = v_request; -- a redelivery: every event is stored already
  ELSIF p_notify THEN
    PERFORM pg_notify('carebook_webhook_events', p_provider); -- delivered when this commits
  END IF;
  RETURN QUERY SELECT v_inserted, v_total - v_inserted;
END
$$;

-- Which clinic an event may act in --------------------------------------------------------------
CREATE FUNCTION integration_scope(p_integration_id uuid) RETURNS TABLE (clinic_id uuid, platform_wide boolean)
LANGUAGE sql STABLE
SET search_path = pg_catalog, public
AS $$ SELECT i.clinic_id, i.platform_wide FROM integrations i WHERE i.id = p_integration_id $$;
COMMENT ON FUNCTION integration_scope(uuid) IS 'The clinic an integration''s events may act in (NULL with platform_wide for a platform account).';

CREATE FUNCTION refuse_cross_clinic(p_integration_id uuid, p_table text, p_row_id uuid) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
BEGIN
  -- A platform-level audit row: the target clinic's id is not shown to the sending clinic.
  PERFORM audit.record('webhook.cross_clinic_ignored', NULL, p_table, p_row_id,
    jsonb_build_object('integration_id', p_integration_id));
  RETURN 'ignored: the ' || p_table || ' row belongs to another clinic than this integration''s';
END
$$;
COMMENT ON FUNCTION refuse_cross_clinic(uuid, text, uuid) IS 'Records (audit) and describes an event that named a row of another clinic than its integration''s; the caller then changes nothing.';

DROP FUNCTION apply_payment_event(uuid, text, text, text);
CREATE FUNCTION apply_payment_event(
  p_integration_id uuid, p_payment_id uuid, p_provider_payment_id text, p_kind text, p_failure_reason text DEFAULT NULL
) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_scope record;
  v_found record;
  v_appointment appointments%ROWTYPE;
  v_payment payments%ROWTYPE;
BEGIN
  IF p_kind NOT IN ('succeeded', 'failed', 'refunded') THEN
    RAISE EXCEPTION 'unknown payment event kind %', p_kind USING errcode = '22023';
  END IF;
  SELECT * INTO v_scope FROM integration_scope(p_integration_id);
  SELECT id, appointment_id, clinic_id INTO v_found FROM payments
   WHERE (p_payment_id IS NOT NULL AND id = p_payment_id)
      OR (p_payment_id IS NULL AND provider_payment_id = p_provider_payment_id);
  IF v_found.appointment_id IS NULL THEN
    RAISE EXCEPTION 'no payment % / % yet', p_payment_id, p_provider_payment_id USING errcode = 'CB101';
  END IF;
  IF NOT coalesce(v_scope.platform_wide, false) AND v_found.clinic_id IS DISTINCT FROM v_scope.clinic_id THEN
    RETURN refuse_cross_clinic(p_integration_id, 'payments', v_found.id);
  END IF;
  SELECT * INTO v_appointment FROM appointments WHERE id = v_found.appointment_id FOR UPDATE;
  SELECT * INTO v_payment FROM payments WHERE id = v_found.id FOR UPDATE;
  IF p_provider_payment_id IS NOT NULL AND v_payment.provider_payment_id IS NULL THEN
    UPDATE payments SET provider_payment_id = p_provider_payment_id WHERE id = v_payment.id;
  END IF;

  IF p_kind = 'succeeded' THEN
    IF v_payment.status IN ('succeeded', 'refunded', 'refund_required') THEN
      RETURN 'already settled: payment ' || v_payment.status;
    END IF;
    IF v_appointment.status IN ('pending_payment', 'confirmed') THEN
      UPDATE payments SET status = 'succeeded', failure_reason = NULL WHERE id = v_payment.id;
      UPDATE appointments SET status = 'confirmed' WHERE id = v_appointment.id AND status = 'pending_payment';
      RETURN 'payment succeeded, appointment confirmed';
    END IF;
    -- The hold expired (or the appointment was cancelled) before the money arrived: it goes back.
    UPDATE payments SET status = 'refund_required' WHERE id = v_payment.id;
    PERFORM audit.record('payment.refund_required', v_payment.clinic_id, 'payments', v_payment.id,
      jsonb_build_object('appointment_status', v_appointment.status));
    RETURN 'refund_required: appointment is ' || v_appointment.status;
  ELSIF p_kind = 'failed' THEN
    IF v_payment.status <> 'pending' THEN
      RETURN 'ignored: payment is ' || v_payment.status;
    END IF;
    UPDATE payments SET status = 'failed', failure_reason = left(p_failure_reason, 500) WHERE id = v_payment.id;
    RETURN 'payment failed; the hold stays until it expires or a payment succeeds';
  ELSE
    IF v_payment.status = 'refunded' THEN
      RETURN 'already refunded';
    END IF;
    UPDATE payments SET status = 'refunded' WHERE id = v_payment.id;
    RETURN 'payment refunded';
  END IF;
END
$$;
COMMENT ON FUNCTION apply_payment_event(uuid, uuid, text, text, text) IS 'Stripe payment outcome for a Carebook payment (by id, else by PaymentIntent id), only within the clinic of the integration it came through. Success confirms a held appointment or, after expiry/cancellation, marks the payment refund_required.';

DROP FUNCTION apply_message_status(text, text, text, text, text, timestamptz);
CREATE FUNCTION apply_message_status(
  p_integration_id uuid, p_provider text, p_message_id text, p_status text, p_error_code text, p_event_id text,
  p_at timestamptz
) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_scope record;
  v_notification record;
  v_status text := lower(p_status);
  v_rank integer := CASE lower(p_status)
    WHEN 'accepted' THEN 1 WHEN 'scheduled' THEN 1 WHEN 'queued' THEN 1 WHEN 'sending' THEN 2 WHEN 'sent' THEN 3
    WHEN 'delivered' THEN 4 WHEN 'read' THEN 5 WHEN 'undelivered' THEN 5 WHEN 'failed' THEN 5 WHEN 'canceled' THEN 5
    ELSE 0 END;
BEGIN
  SELECT * INTO v_scope FROM integration_scope(p_integration_id);
  SELECT id, clinic_id INTO v_notification FROM notifications
   WHERE provider = p_provider AND provider_message_id = p_message_id;
  IF NOT FOUND THEN
    RETURN 'ignored: no notification with this message id';
  END IF;
  IF NOT coalesce(v_scope.platform_wide, false) AND v_notification.clinic_id IS DISTINCT FROM v_scope.clinic_id THEN
    RETURN refuse_cross_clinic(p_integration_id, 'notifications', v_notification.id);
  END IF;
  UPDATE notifications
     SET status = CASE WHEN v_rank > status_rank THEN v_status ELSE status END,
         status_rank = greatest(status_rank, v_rank),
         error_code = CASE WHEN v_rank > status_rank THEN coalesce(p_error_code, error_code) ELSE error_code END,
         status_history = status_history || jsonb_build_array(jsonb_build_object(
           'status', v_status, 'at', to_api_time(p_at), 'event_id', p_event_id, 'error_code', p_error_code))
   WHERE id = v_notification.id
     AND NOT status_history @> jsonb_build_array(jsonb_build_object('event_id', p_event_id));
  RETURN CASE WHEN FOUND THEN 'status ' || v_status ELSE 'already recorded' END;
END
$$;
COMMENT ON FUNCTION apply_message_status(uuid, text, text, text, text, text, timestamptz) IS 'Records a delivery callback of a message of the integration''s clinic: always in status_history, in status only when it moves forward (read is never overwritten by a late delivered).';

ALTER TABLE inbound_messages ADD COLUMN webhook_id uuid REFERENCES integrations (id);
COMMENT ON COLUMN inbound_messages.webhook_id IS 'The integration (provider account) the message came through; it decides which clinic the sender is looked up in.';
COMMENT ON COLUMN inbound_messages.outcome IS 'What was done: cancelled, confirmed, stored_for_staff, no_upcoming_appointment, unknown_sender, ambiguous_sender (a platform-wide account, and the number is a patient of several clinics: nothing is applied).';
GRANT INSERT (webhook_id) ON inbound_messages TO carebook_worker;

DROP FUNCTION record_inbound_message(text, text, text, text, text, timestamptz);
CREATE FUNCTION record_inbound_message(
  p_integration_id uuid, p_provider text, p_channel text, p_message_id text, p_from text, p_body text, p_at timestamptz
) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_scope record;
  v_phone text := '+' || regexp_replace(p_from, '[^0-9]', '', 'g');
  v_command text := upper(btrim(coalesce(p_body, '')));
  v_intent text;
  v_id uuid;
  v_clinics integer;
  v_patient_id uuid;
  v_clinic_id uuid;
  v_appointment_id uuid;
  v_outcome text;
BEGIN
  v_intent := CASE WHEN v_command IN ('C', 'CANCEL') THEN 'cancel'
                   WHEN v_command IN ('Y', 'YES', 'CONFIRM') THEN 'confirm' ELSE 'other' END;
  SELECT * INTO v_scope FROM integration_scope(p_integration_id);
  -- The sender is looked up in the integration's clinic only. A platform-wide account may act for
  -- any clinic, but only when the number belongs to patients of exactly one clinic.
  SELECT count(DISTINCT p.clinic_id) INTO v_clinics FROM patients p
   WHERE p.phone = v_phone AND (coalesce(v_scope.platform_wide, false) OR p.clinic_id = v_scope.clinic_id);
  IF v_clinics = 1 THEN
    SELECT a.id, a.patient_id INTO v_appointment_id, v_patient_id
      FROM appointments a JOIN patients p ON p.id = a.patient_id
     WHERE p.phone = v_phone AND (coalesce(v_scope.platform_wide, false) OR p.clinic_id = v_scope.clinic_id)
       AND a.status IN ('pending_payment', 'confirmed') AND a.starts_at > now()
     ORDER BY a.starts_at LIMIT 1;
    SELECT p.id, p.clinic_id INTO v_patient_id, v_clinic_id FROM patients p
     WHERE p.phone = v_phone AND (coalesce(v_scope.platform_wide, false) OR p.clinic_id = v_scope.clinic_id)
     ORDER BY (p.id = v_patient_id) DESC NULLS LAST, p.created_at LIMIT 1;
  END IF;

  -- Claim the message first: a redelivery (or a twin worker) stops here.
  INSERT INTO inbound_messages (clinic_id, patient_id, appointment_id, channel, provider, provider_message_id,
                                from_address, body, intent, outcome, received_at, webhook_id)
  VALUES (v_clinic_id, v_patient_id, v_appointment_id, p_channel, p_provider, p_message_id, v_phone,
          left(coalesce(p_body, ''), 5000), v_intent, 'pending', p_at, p_integration_id)
  ON CONFLICT (provider, provider_message_id) DO NOTHING
  RETURNING id INTO v_id;
  IF v_id IS NULL THEN
    RETURN 'already recorded';
  END IF;

  v_outcome := CASE
    WHEN v_clinics > 1 THEN 'ambiguous_sender'
    WHEN v_patient_id IS NULL THEN 'unknown_sender'
    WHEN v_intent = 'other' THEN 'stored_for_staff'
    WHEN v_appointment_id IS NULL THEN 'no_upcoming_appointment'
    WHEN v_intent = 'cancel' THEN 'cancelled'
    ELSE 'confirmed' END;
  IF v_outcome = 'cancelled' THEN
    PERFORM cancel_appointment(v_appointment_id, 'patient-reply:' || p_message_id, 'cancelled by the patient''s reply');
  ELSIF v_outcome = 'confirmed' THEN
    UPDATE appointments SET patient_confirmed_at = coalesce(patient_confirmed_at, p_at) WHERE id = v_appointment_id;
  END IF;
  UPDATE inbound_messages SET outcome = v_outcome WHERE id = v_id;
  RETURN v_outcome;
END
$$;
COMMENT ON FUNCTION record_inbound_message(uuid, text, text, text, text, text, timestamptz) IS 'Stores a patient''s message once and acts on it within the integration''s clinic: C/CANCEL cancels the next upcoming appointment, Y/YES/CONFIRM records the confirmation, anything else waits for staff.';

DROP FUNCTION apply_video_event(text, text, timestamptz);
CREATE FUNCTION apply_video_event(p_integration_id uuid, p_room text, p_kind text, p_at timestamptz) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_scope record;
  v_appointment appointments%ROWTYPE;
BEGIN
  IF p_kind NOT IN ('started', 'ended') THEN
    RAISE EXCEPTION 'unknown video event kind %', p_kind USING errcode = '22023';
  END IF;
  SELECT * INTO v_scope FROM integration_scope(p_integration_id);
  SELECT * INTO v_appointment FROM appointments WHERE video_room_name = p_room FOR UPDATE;
  IF NOT FOUND THEN
    RETURN 'ignored: no appointment uses this room';
  END IF;
  IF NOT coalesce(v_scope.platform_wide, false) AND v_appointment.clinic_id IS DISTINCT FROM v_scope.clinic_id THEN
    RETURN refuse_cross_clinic(p_integration_id, 'appointments', v_appointment.id);
  END IF;
  IF p_kind = 'started' THEN
    UPDATE appointments SET video_started_at = least(coalesce(video_started_at, p_at), p_at) WHERE id = v_appointment.id;
    RETURN 'video session started';
  END IF;
  UPDATE appointments SET video_ended_at = greatest(coalesce(video_ended_at, p_at), p_at) WHERE id = v_appointment.id;
  IF v_appointment.status = 'confirmed' AND v_appointment.visit_type = 'video' THEN
    UPDATE appointments SET status = 'completed' WHERE id = v_appointment.id;
    -- The slot points only at active appointments (00011's invariant); it lies in the past.
    UPDATE appointment_slots SET is_available = (status = 'open'), appointment_id = NULL
     WHERE id = v_appointment.slot_id AND appointment_id = v_appointment.id;
    RETURN 'video session ended, appointment completed';
  END IF;
  RETURN 'video session ended';
END
$$;
COMMENT ON FUNCTION apply_video_event(uuid, text, text, timestamptz) IS 'Daily meeting.started / meeting.ended for the appointment owning the room, within the integration''s clinic; ended completes a confirmed video appointment. Order-tolerant.';

REVOKE EXECUTE ON FUNCTION integration_scope(uuid), refuse_cross_clinic(uuid, text, uuid),
  apply_payment_event(uuid, uuid, text, text, text),
  apply_message_status(uuid, text, text, text, text, text, timestamptz),
  record_inbound_message(uuid, text, text, text, text, text, timestamptz),
  apply_video_event(uuid, text, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION integration_scope(uuid), refuse_cross_clinic(uuid, text, uuid),
  apply_payment_event(uuid, uuid, text, text, text),
  apply_message_status(uuid, text, text, text, text, text, timestamptz),
  record_inbound_message(uuid, text, text, text, text, text, timestamptz),
  apply_video_event(uuid, text, text, timestamptz) TO carebook_worker;

-- audit.record checks its caller ---------------------------------------------------------------
CREATE OR REPLACE FUNCTION audit.record(
  p_action text,
  p_clinic_id uuid,
  p_table_name text,
  p_row_id uuid,
  p_details jsonb,
  p_reason text DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
  -- The caller's SET ROLE: a SECURITY DEFINER function changes current_user, not this setting.
  v_caller text := current_setting('role');
  v_id bigint;
BEGIN
  IF p_action IS NULL OR p_action !~ '^[a-z_]+\.[a-z_.]+$' THEN
    RAISE EXCEPTION 'audit action must be a dotted name, got %', p_action USING errcode = '22023';
  END IF;
  -- A clinic's own roles write only their clinic's trail; the service and platform admins act for
  -- any clinic (and write platform rows, clinic NULL); a superuser session is trusted anyway.
  IF v_caller NOT IN ('carebook_worker', 'carebook_admin')
     AND p_clinic_id IS DISTINCT FROM app_clinic_id()
     AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = session_user) THEN
    RAISE EXCEPTION 'audit rows for clinic % cannot be written from this context', p_clinic_id
      USING errcode = '42501';
  END IF;
  INSERT INTO audit.audit_log (clinic_id, actor, actor_role, action, table_name, row_id, details, reason)
  VALUES (p_clinic_id, audit.current_actor(), nullif(current_setting('carebook.role', true), ''),
          p_action, p_table_name, p_row_id, p_details, p_reason)
  RETURNING id INTO v_id;
  RETURN v_id;
END
$$;

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '120s';

CREATE OR REPLACE FUNCTION audit.record(
  p_action text,
  p_clinic_id uuid,
  p_table_name text,
  p_row_id uuid,
  p_details jsonb,
  p_reason text DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_id bigint;
BEGIN
  IF p_action IS NULL OR p_action !~ '^[a-z_]+\.[a-z_.]+$' THEN
    RAISE EXCEPTION 'audit action must be a dotted name, got %', p_action USING errcode = '22023';
  END IF;
  INSERT INTO audit.audit_log (clinic_id, actor, actor_role, action, table_name, row_id, details, reason)
  VALUES (p_clinic_id, audit.current_actor(), nullif(current_setting('carebook.role', true), ''),
          p_action, p_table_name, p_row_id, p_details, p_reason)
  RETURNING id INTO v_id;
  RETURN v_id;
END
$$;

DROP FUNCTION IF EXISTS apply_video_event(uuid, text, text, timestamptz);
DROP FUNCTION IF EXISTS record_inbound_message(uuid, text, text, text, text, text, timestamptz);
DROP FUNCTION IF EXISTS apply_message_status(uuid, text, text, text, text, text, timestamptz);
DROP FUNCTION IF EXISTS apply_payment_event(uuid, uuid, text, text, text);
DROP FUNCTION IF EXISTS refuse_cross_clinic(uuid, text, uuid);
DROP FUNCTION IF EXISTS integration_scope(uuid);
REVOKE INSERT (webhook_id) ON inbound_messages FROM carebook_worker;
ALTER TABLE inbound_messages DROP COLUMN IF EXISTS webhook_id;
COMMENT ON COLUMN inbound_messages.outcome IS 'What was done: cancelled, confirmed, stored_for_staff, no_upcoming_appointment, unknown_sender.';
-- The handlers of 00013, as they were (the bodies are repeated: a Down restores what Up replaced).
CREATE FUNCTION apply_payment_event(p_payment_id uuid, p_provider_payment_id text, p_kind text, p_failure_reason text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_appointment_id uuid;
  v_appointment appointments%ROWTYPE;
  v_payment payments%ROWTYPE;
BEGIN
  IF p_kind NOT IN ('succeeded', 'failed', 'refunded') THEN
    RAISE EXCEPTION 'unknown payment event kind %', p_kind USING errcode = '22023';
  END IF;
  SELECT appointment_id INTO v_appointment_id FROM payments
   WHERE (p_payment_id IS NOT NULL AND id = p_payment_id)
      OR (p_payment_id IS NULL AND provider_payment_id = p_provider_payment_id);
  IF v_appointment_id IS NULL THEN
    RAISE EXCEPTION 'no payment % / % yet', p_payment_id, p_provider_payment_id USING errcode = 'CB101';
  END IF;
  SELECT * INTO v_appointment FROM appointments WHERE id = v_appointment_id FOR UPDATE;
  SELECT * INTO v_payment FROM payments
   WHERE appointment_id = v_appointment_id
     AND ((p_payment_id IS NOT NULL AND id = p_payment_id) OR (p_payment_id IS NULL AND provider_payment_id = p_provider_payment_id))
   FOR UPDATE;
  IF p_provider_payment_id IS NOT NULL AND v_payment.provider_payment_id IS NULL THEN
    UPDATE payments SET provider_payment_id = p_provider_payment_id WHERE id = v_payment.id;
  END IF;

  IF p_kind = 'succeeded' THEN
    IF v_payment.status IN ('succeeded', 'refunded', 'refund_required') THEN
      RETURN 'already settled: payment ' || v_payment.status;
    END IF;
    IF v_appointment.status IN ('pending_payment', 'confirmed') THEN
      UPDATE payments SET status = 'succeeded', failure_reason = NULL WHERE id = v_payment.id;
      UPDATE appointments SET status = 'confirmed' WHERE id = v_appointment.id AND status = 'pending_payment';
      RETURN 'payment succeeded, appointment confirmed';
    END IF;
    -- The hold expired (or the appointment was cancelled) before the money arrived: it goes back.
    UPDATE payments SET status = 'refund_required' WHERE id = v_payment.id;
    PERFORM audit.record('payment.refund_required', v_payment.clinic_id, 'payments', v_payment.id,
      jsonb_build_object('appointment_status', v_appointment.status));
    RETURN 'refund_required: appointment is ' || v_appointment.status;
  ELSIF p_kind = 'failed' THEN
    IF v_payment.status <> 'pending' THEN
      RETURN 'ignored: payment is ' || v_payment.status;
    END IF;
    UPDATE payments SET status = 'failed', failure_reason = left(p_failure_reason, 500) WHERE id = v_payment.id;
    RETURN 'payment failed; the hold stays until it expires or a payment succeeds';
  ELSE
    IF v_payment.status = 'refunded' THEN
      RETURN 'already refunded';
    END IF;
    UPDATE payments SET status = 'refunded' WHERE id = v_payment.id;
    RETURN 'payment refunded';
  END IF;
END
$$;
COMMENT ON FUNCTION apply_payment_event(uuid, text, text, text) IS 'Stripe payment outcome for a Carebook payment (by id, else by PaymentIntent id). Success confirms a held appointment or, after expiry/cancellation, marks the payment refund_required.';

CREATE FUNCTION apply_message_status(
  p_provider text, p_message_id text, p_status text, p_error_code text, p_event_id text, p_at timestamptz
) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_status text := lower(p_status);
  v_rank integer := CASE lower(p_status)
    WHEN 'accepted' THEN 1 WHEN 'scheduled' THEN 1 WHEN 'queued' THEN 1 WHEN 'sending' THEN 2 WHEN 'sent' THEN 3
    WHEN 'delivered' THEN 4 WHEN 'read' THEN 5 WHEN 'undelivered' THEN 5 WHEN 'failed' THEN 5 WHEN 'canceled' THEN 5
    ELSE 0 END;
BEGIN
  UPDATE notifications
     SET status = CASE WHEN v_rank > status_rank THEN v_status ELSE status END,
         status_rank = greatest(status_rank, v_rank),
         error_code = CASE WHEN v_rank > status_rank THEN coalesce(p_error_code, error_code) ELSE error_code END,
         status_history = status_history || jsonb_build_array(jsonb_build_object(
           'status', v_status, 'at', to_api_time(p_at), 'event_id', p_event_id, 'error_code', p_error_code))
   WHERE provider = p_provider AND provider_message_id = p_message_id
     AND NOT status_history @> jsonb_build_array(jsonb_build_object('event_id', p_event_id));
  IF FOUND THEN
    RETURN 'status ' || v_status;
  END IF;
  IF EXISTS (SELECT 1 FROM notifications WHERE provider = p_provider AND provider_message_id = p_message_id) THEN
    RETURN 'already recorded';
  END IF;
  RETURN 'ignored: no notification with this message id';
END
$$;
COMMENT ON FUNCTION apply_message_status(text, text, text, text, text, timestamptz) IS 'Records a delivery callback: always in status_history, in status only when it moves forward (read is never overwritten by a late delivered).';

CREATE FUNCTION record_inbound_message(
  p_provider text, p_channel text, p_message_id text, p_from text, p_body text, p_at timestamptz
) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_phone text := '+' || regexp_replace(p_from, '[^0-9]', '', 'g');
  v_command text := upper(btrim(coalesce(p_body, '')));
  v_intent text;
  v_id uuid;
  v_patient record;
  v_appointment record;
  v_outcome text;
BEGIN
  v_intent := CASE WHEN v_command IN ('C', 'CANCEL') THEN 'cancel'
                   WHEN v_command IN ('Y', 'YES', 'CONFIRM') THEN 'confirm' ELSE 'other' END;
  -- The sender's next upcoming active appointment, over every patient record with that number.
  SELECT a.id, a.clinic_id, a.patient_id INTO v_appointment
    FROM appointments a JOIN patients p ON p.id = a.patient_id
   WHERE p.phone = v_phone AND a.status IN ('pending_payment', 'confirmed') AND a.starts_at > now()
   ORDER BY a.starts_at LIMIT 1;
  SELECT p.id, p.clinic_id INTO v_patient FROM patients p
   WHERE p.phone = v_phone ORDER BY (p.id = v_appointment.patient_id) DESC NULLS LAST, p.created_at LIMIT 1;

  -- Claim the message first: a redelivery (or a twin worker) stops here.
  INSERT INTO inbound_messages (clinic_id, patient_id, appointment_id, channel, provider, provider_message_id,
                                from_address, body, intent, outcome, received_at)
  VALUES (v_patient.clinic_id, v_patient.id, v_appointment.id, p_channel, p_provider, p_message_id, v_phone,
          left(coalesce(p_body, ''), 5000), v_intent, 'pending', p_at)
  ON CONFLICT (provider, provider_message_id) DO NOTHING
  RETURNING id INTO v_id;
  IF v_id IS NULL THEN
    RETURN 'already recorded';
  END IF;

  v_outcome := CASE
    WHEN v_patient.id IS NULL THEN 'unknown_sender'
    WHEN v_intent = 'other' THEN 'stored_for_staff'
    WHEN v_appointment.id IS NULL THEN 'no_upcoming_appointment'
    WHEN v_intent = 'cancel' THEN 'cancelled'
    ELSE 'confirmed' END;
  IF v_outcome = 'cancelled' THEN
    PERFORM cancel_appointment(v_appointment.id, 'patient-reply:' || p_message_id, 'cancelled by the patient''s reply');
  ELSIF v_outcome = 'confirmed' THEN
    UPDATE appointments SET patient_confirmed_at = coalesce(patient_confirmed_at, p_at) WHERE id = v_appointment.id;
  END IF;
  UPDATE inbound_messages SET outcome = v_outcome WHERE id = v_id;
  RETURN v_outcome;
END
$$;
COMMENT ON FUNCTION record_inbound_message(text, text, text, text, text, timestamptz) IS 'Stores a patient''s message once and acts on it: C/CANCEL cancels the next upcoming appointment, Y/YES/CONFIRM records the confirmation, anything else waits for staff.';

CREATE FUNCTION apply_video_event(p_room text, p_kind text, p_at timestamptz) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_appointment appointments%ROWTYPE;
BEGIN
  SELECT * INTO v_appointment FROM appointments WHERE video_room_name = p_room FOR UPDATE;
  IF NOT FOUND THEN
    RETURN 'ignored: no appointment uses this room';
  END IF;
  IF p_kind = 'started' THEN
    UPDATE appointments SET video_started_at = least(coalesce(video_started_at, p_at), p_at) WHERE id = v_appointment.id;
    RETURN 'video session started';
  ELSIF p_kind = 'ended' THEN
    UPDATE appointments SET video_ended_at = greatest(coalesce(video_ended_at, p_at), p_at) WHERE id = v_appointment.id;
    IF v_appointment.status = 'confirmed' AND v_appointment.visit_type = 'video' THEN
      UPDATE appointments SET status = 'completed' WHERE id = v_appointment.id;
      -- The slot points only at active appointments (00011's invariant); it lies in the past.
      UPDATE appointment_slots SET is_available = (status = 'open'), appointment_id = NULL
       WHERE id = v_appointment.slot_id AND appointment_id = v_appointment.id;
      RETURN 'video session ended, appointment completed';
    END IF;
    RETURN 'video session ended';
  END IF;
  RAISE EXCEPTION 'unknown video event kind %', p_kind USING errcode = '22023';
END
$$;
COMMENT ON FUNCTION apply_video_event(text, text, timestamptz) IS 'Daily meeting.started / meeting.ended for the appointment owning the room; ended completes a confirmed video appointment. Order-tolerant.';

REVOKE EXECUTE ON FUNCTION apply_payment_event(uuid, text, text, text),
  apply_message_status(text, text, text, text, text, timestamptz),
  record_inbound_message(text, text, text, text, text, timestamptz), apply_video_event(text, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION apply_payment_event(uuid, text, text, text),
  apply_message_status(text, text, text, text, text, timestamptz),
  record_inbound_message(text, text, text, text, text, timestamptz), apply_video_event(text, text, timestamptz)
  TO carebook_worker;

-- Events carry their request's body again.
ALTER TABLE webhook_events
  ADD COLUMN raw_body bytea, ADD COLUMN signed_headers jsonb NOT NULL DEFAULT '{}', ADD COLUMN request_url text;
UPDATE webhook_events e
   SET raw_body = r.raw_body, signed_headers = r.signed_headers, request_url = r.request_url
  FROM webhook_requests r WHERE r.id = e.request_id;
ALTER TABLE webhook_events ALTER COLUMN raw_body SET NOT NULL, ALTER COLUMN request_url SET NOT NULL;
COMMENT ON COLUMN webhook_events.raw_body IS 'The request body exactly as received, so a replay can verify the signature again.';
COMMENT ON COLUMN webhook_events.signed_headers IS 'The signature headers as received (lower-case names).';
COMMENT ON COLUMN webhook_events.request_url IS 'The public URL the provider called (Twilio signs it).';
CREATE OR REPLACE FUNCTION ingest_webhook_events(
  p_webhook_id uuid, p_provider text, p_events jsonb, p_raw_body bytea, p_signed_headers jsonb, p_request_url text,
  p_signature text, p_notify boolean
) RETURNS TABLE (inserted integer, duplicates integer)
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_inserted integer;
  v_total integer := jsonb_array_length(p_events);
BEGIN
  INSERT INTO webhook_events (webhook_id, provider, event_id, event_type, payload, idempotency_key, signature,
                              raw_body, signed_headers, request_url)
  SELECT p_webhook_id, p_provider, e.event_id, e.event_type, e.payload, e.idempotency_key, p_signature,
         p_raw_body, p_signed_headers, p_request_url
    FROM jsonb_to_recordset(p_events) AS e(event_id text, event_type text, payload jsonb, idempotency_key text)
  ON CONFLICT (webhook_id, event_id) DO NOTHING;
  GET DIAGNOSTICS v_inserted = ROW_COUNT;
  IF v_inserted > 0 AND p_notify THEN
    PERFORM pg_notify('carebook_webhook_events', p_provider); -- delivered when this commits
  END IF;
  RETURN QUERY SELECT v_inserted, v_total - v_inserted;
END
$$;
DROP INDEX IF EXISTS webhook_events_request_idx;
ALTER TABLE webhook_events DROP COLUMN request_id;
DROP TABLE webhook_requests;

REVOKE INSERT (platform_wide), UPDATE (platform_wide) ON integrations FROM carebook_admin;
ALTER TABLE integrations DROP CONSTRAINT IF EXISTS integrations_owner_explicit;
ALTER TABLE integrations DROP COLUMN IF EXISTS platform_wide;
REVOKE EXECUTE ON FUNCTION book_appointment(uuid, uuid, text, text, jsonb),
  reschedule_appointment(uuid, uuid, text, text), cancel_appointment(uuid, text, text),
  claim_webhook_events(text, integer, integer), release_webhook_events(text, uuid[]), webhook_queue_stats(),
  ingest_webhook_events(uuid, text, jsonb, bytea, jsonb, text, text, boolean) FROM PUBLIC;
REVOKE SELECT ON carebook_migrations.pgmigrations, carebook_migrations.checksums FROM carebook_readonly;
REVOKE USAGE ON SCHEMA carebook_migrations FROM carebook_readonly;
