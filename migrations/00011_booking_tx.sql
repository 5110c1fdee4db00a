-- 00011 — atomic booking: book, reschedule and cancel as single transactions, hold expiry, and
-- idempotency-key retention.
-- All functions are SECURITY INVOKER: they run as the caller's role (carebook_app for the API,
-- carebook_worker for the sweeper and webhook handlers), so row-level security applies inside
-- them exactly as outside. Domain errors use SQLSTATE class CB (docs/error_codes.md):
--   CB001 slot_unavailable  CB002 slot_not_found  CB003 idempotency_key_reused
--   CB004 appointment_not_found  CB005 appointment_not_active  CB006 patient_not_found
--   CB007 patient_double_booked  CB008 reschedule_price_mismatch
-- Lock order, the same everywhere so that no two of these can deadlock: idempotency row →
-- patient (advisory lock) → appointment row → slot rows in id order.

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE FUNCTION to_api_time(p_time timestamptz) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog
AS $$ SELECT to_char(p_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;
COMMENT ON FUNCTION to_api_time(timestamptz) IS 'ISO 8601 in UTC with milliseconds, as the API writes times (same as JavaScript toISOString).';

CREATE FUNCTION booking_response_body(p_appointment_id uuid) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, public
AS $$
  SELECT jsonb_build_object(
    'appointment', jsonb_build_object(
      'id', a.id, 'clinic_id', a.clinic_id, 'slot_id', a.slot_id, 'patient_id', a.patient_id,
      'status', a.status, 'starts_at', to_api_time(a.starts_at), 'ends_at', to_api_time(a.ends_at),
      'visit_type', a.visit_type, 'hold_expires_at', to_api_time(a.hold_expires_at)),
    'payment', (SELECT jsonb_build_object('id', p.id, 'status', p.status, 'amount_cents', p.amount_cents,
                                          'currency', p.currency)
                FROM payments p WHERE p.appointment_id = a.id ORDER BY p.created_at DESC LIMIT 1))
  FROM appointments a WHERE a.id = p_appointment_id
$$;
COMMENT ON FUNCTION booking_response_body(uuid) IS 'The API body {appointment, payment} of an appointment, as stored for idempotent replays.';

CREATE FUNCTION claim_booking_request(p_operation text, p_client_id text, p_idempotency_key text, p_request jsonb)
RETURNS TABLE (request_id uuid, response_status integer, response_body jsonb)
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_clinic uuid := app_clinic_id();
  v_fingerprint text := encode(sha256(convert_to(jsonb_build_object('operation', p_operation, 'request', p_request)::text, 'UTF8')), 'hex');
  v_id uuid;
  v_stored booking_requests%ROWTYPE;
BEGIN
  IF v_clinic IS NULL THEN
    RAISE EXCEPTION 'booking requires a clinic context (carebook.clinic_id)' USING errcode = '42501';
  END IF;
  -- A twin carrying the same key waits here on the unique index until the first commits (then
  -- replays its result) or rolls back (then proceeds as the first).
  INSERT INTO booking_requests (clinic_id, client_id, idempotency_key, operation, request_fingerprint)
  VALUES (v_clinic, p_client_id, p_idempotency_key, p_operation, v_fingerprint)
  ON CONFLICT (clinic_id, client_id, idempotency_key) DO NOTHING
  RETURNING id INTO v_id;
  IF v_id IS NOT NULL THEN
    RETURN QUERY SELECT v_id, NULL::integer, NULL::jsonb;
    RETURN;
  END IF;
  SELECT * INTO v_stored FROM booking_requests
   WHERE clinic_id = v_clinic AND client_id = p_client_id AND idempotency_key = p_idempotency_key;
  IF v_stored.request_fingerprint IS DISTINCT FROM v_fingerprint THEN
    RAISE EXCEPTION 'this Idempotency-Key was used for a different request'
      USING errcode = 'CB003', detail = 'Send a new key for a new request; reuse a key only to retry the same request.';
  END IF;
  RETURN QUERY SELECT NULL::uuid, v_stored.response_status, v_stored.response_body;
END
$$;
COMMENT ON FUNCTION claim_booking_request(text, text, text, jsonb) IS 'Claims an idempotency key for this transaction, or returns the stored response of the request that already used it (CB003 when the request differs).';

CREATE FUNCTION book_appointment(
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

CREATE FUNCTION reschedule_appointment(
  p_appointment_id uuid,
  p_new_slot_id uuid,
  p_requested_by text,
  p_idempotency_key text
) RETURNS TABLE (response_status integer, response_body jsonb, replayed boolean)
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_claim record;
  v_patient_id uuid;
  v_appointment appointments%ROWTYPE;
  v_old appointment_slots%ROWTYPE;
  v_new appointment_slots%ROWTYPE;
  v_body jsonb;
BEGIN
  SELECT * INTO v_claim FROM claim_booking_request('reschedule', p_requested_by, p_idempotency_key,
    jsonb_build_object('appointment_id', p_appointment_id, 'new_slot_id', p_new_slot_id));
  IF v_claim.request_id IS NULL THEN
    RETURN QUERY SELECT v_claim.response_status, v_claim.response_body, true;
    RETURN;
  END IF;

  SELECT patient_id INTO v_patient_id FROM appointments WHERE id = p_appointment_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no appointment % here', p_appointment_id USING errcode = 'CB004';
  END IF;
  PERFORM pg_advisory_xact_lock(hashtextextended('carebook:patient:' || v_patient_id, 0));
  SELECT * INTO v_appointment FROM appointments WHERE id = p_appointment_id FOR UPDATE;
  IF v_appointment.status NOT IN ('pending_payment', 'confirmed') THEN
    RAISE EXCEPTION 'the appointment is %', v_appointment.status USING errcode = 'CB005',
      detail = 'Only pending_payment or confirmed appointments can be rescheduled.';
  END IF;

  -- Both slots, always in id order: two reschedules crossing each other cannot deadlock.
  PERFORM 1 FROM appointment_slots WHERE id IN (v_appointment.slot_id, p_new_slot_id) ORDER BY id FOR UPDATE;
  SELECT * INTO v_old FROM appointment_slots WHERE id = v_appointment.slot_id;
  SELECT * INTO v_new FROM appointment_slots WHERE id = p_new_slot_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no slot % in this clinic', p_new_slot_id USING errcode = 'CB002';
  END IF;
  IF v_new.id <> v_old.id THEN
    IF NOT v_new.is_available OR v_new.starts_at <= now() THEN
      RAISE EXCEPTION 'the new slot is not available' USING errcode = 'CB001', detail = 'Choose another slot.';
    END IF;
    IF v_new.price_cents IS DISTINCT FROM v_old.price_cents OR v_new.currency IS DISTINCT FROM v_old.currency THEN
      RAISE EXCEPTION 'the new slot has a different price' USING errcode = 'CB008',
        detail = 'Cancel and book the new slot instead.';
    END IF;
    PERFORM 1 FROM appointments
     WHERE patient_id = v_appointment.patient_id AND id <> v_appointment.id AND status IN ('pending_payment', 'confirmed')
       AND tstzrange(starts_at, ends_at) && tstzrange(v_new.starts_at, v_new.ends_at);
    IF FOUND THEN
      RAISE EXCEPTION 'the patient already has an appointment at that time' USING errcode = 'CB007';
    END IF;
    UPDATE appointment_slots SET is_available = (status = 'open'), appointment_id = NULL WHERE id = v_old.id;
    UPDATE appointments
       SET slot_id = v_new.id, starts_at = v_new.starts_at, ends_at = v_new.ends_at, visit_type = v_new.visit_type,
           video_room_name = CASE WHEN v_new.visit_type = 'video'
                                  THEN coalesce(video_room_name, 'cb-' || replace(id::text, '-', '')) END
     WHERE id = v_appointment.id;
    UPDATE appointment_slots SET is_available = false, appointment_id = v_appointment.id WHERE id = v_new.id;
    PERFORM audit.record('appointment.reschedule', v_appointment.clinic_id, 'appointments', v_appointment.id,
      jsonb_build_object('from_slot_id', v_old.id, 'to_slot_id', v_new.id, 'idempotency_key', p_idempotency_key));
  END IF;

  v_body := booking_response_body(v_appointment.id);
  UPDATE booking_requests SET response_status = 200, response_body = v_body, appointment_id = v_appointment.id
   WHERE id = v_claim.request_id;
  RETURN QUERY SELECT 200, v_body, false;
END
$$;
COMMENT ON FUNCTION reschedule_appointment(uuid, uuid, text, text) IS 'Moves an active appointment to another free slot of the same price, atomically, locking both slots in id order.';

CREATE FUNCTION cancel_appointment(p_appointment_id uuid, p_cancelled_by text, p_reason text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_appointment appointments%ROWTYPE;
BEGIN
  SELECT * INTO v_appointment FROM appointments WHERE id = p_appointment_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no appointment % here', p_appointment_id USING errcode = 'CB004';
  END IF;
  IF v_appointment.status = 'cancelled' THEN
    RETURN booking_response_body(v_appointment.id); -- cancelling twice is not an error
  END IF;
  IF v_appointment.status NOT IN ('pending_payment', 'confirmed') THEN
    RAISE EXCEPTION 'the appointment is %', v_appointment.status USING errcode = 'CB005',
      detail = 'Only pending_payment or confirmed appointments can be cancelled.';
  END IF;
  UPDATE appointments SET status = 'cancelled', cancelled_at = now(), cancellation_reason = p_reason
   WHERE id = v_appointment.id;
  UPDATE appointment_slots SET is_available = (status = 'open'), appointment_id = NULL
   WHERE id = v_appointment.slot_id AND appointment_id = v_appointment.id;
  -- Money already taken must go back; a payment still pending will never be collected.
  UPDATE payments SET status = CASE status WHEN 'succeeded' THEN 'refund_required' ELSE 'cancelled' END
   WHERE appointment_id = v_appointment.id AND status IN ('pending', 'succeeded');
  PERFORM audit.record('appointment.cancel', v_appointment.clinic_id, 'appointments', v_appointment.id,
    jsonb_build_object('cancelled_by', p_cancelled_by));
  RETURN booking_response_body(v_appointment.id);
END
$$;
COMMENT ON FUNCTION cancel_appointment(uuid, text, text) IS 'Cancels an active appointment, frees its slot, cancels a pending payment or marks a paid one refund_required. Idempotent.';

CREATE FUNCTION expire_unpaid_holds(p_limit integer DEFAULT 1000) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_appointment record;
  v_count integer := 0;
BEGIN
  -- SKIP LOCKED: several sweepers never wait on each other or on a booking in flight.
  FOR v_appointment IN
    SELECT id, clinic_id, slot_id FROM appointments
     WHERE status = 'pending_payment' AND hold_expires_at <= now()
     ORDER BY hold_expires_at LIMIT p_limit
     FOR UPDATE SKIP LOCKED
  LOOP
    UPDATE appointments SET status = 'expired' WHERE id = v_appointment.id;
    UPDATE appointment_slots SET is_available = (status = 'open'), appointment_id = NULL
     WHERE id = v_appointment.slot_id AND appointment_id = v_appointment.id;
    UPDATE payments SET status = 'cancelled' WHERE appointment_id = v_appointment.id AND status = 'pending';
    PERFORM audit.record('appointment.expire', v_appointment.clinic_id, 'appointments', v_appointment.id, '{}'::jsonb);
    v_count := v_count + 1;
  END LOOP;
  RETURN v_count;
END
$$;
COMMENT ON FUNCTION expire_unpaid_holds(integer) IS 'Expires pending_payment appointments whose hold has lapsed and frees their slots. A payment that succeeds later becomes refund_required.';

CREATE FUNCTION purge_expired_booking_requests(p_limit integer DEFAULT 10000) RETURNS integer
LANGUAGE sql
SET search_path = pg_catalog, public
AS $$
  WITH gone AS (
    DELETE FROM booking_requests
     WHERE id IN (SELECT id FROM booking_requests WHERE expires_at < now() ORDER BY expires_at LIMIT p_limit)
    RETURNING 1
  )
  SELECT count(*)::integer FROM gone
$$;
COMMENT ON FUNCTION purge_expired_booking_requests(integer) IS 'Deletes idempotency records past their retention (24 hours), oldest first.';

GRANT UPDATE (visit_type, video_room_name) ON appointments TO carebook_app;
REVOKE EXECUTE ON FUNCTION to_api_time(timestamptz), booking_response_body(uuid),
  claim_booking_request(text, text, text, jsonb), book_appointment(uuid, uuid, text, text, jsonb),
  reschedule_appointment(uuid, uuid, text, text), cancel_appointment(uuid, text, text),
  expire_unpaid_holds(integer), purge_expired_booking_requests(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION to_api_time(timestamptz), booking_response_body(uuid)
  TO carebook_app, carebook_worker, carebook_admin;
GRANT EXECUTE ON FUNCTION claim_booking_request(text, text, text, jsonb),
  book_appointment(uuid, uuid, text, text, jsonb), reschedule_appointment(uuid, uuid, text, text)
  TO carebook_app;
GRANT EXECUTE ON FUNCTION cancel_appointment(uuid, text, text) TO carebook_app, carebook_worker, carebook_admin;
GRANT EXECUTE ON FUNCTION expire_unpaid_holds(integer), purge_expired_booking_requests(integer) TO carebook_worker;

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
REVOKE UPDATE (visit_type, video_room_name) ON appointments FROM carebook_app;
DROP FUNCTION IF EXISTS purge_expired_booking_requests(integer);
DROP FUNCTION IF EXISTS expire_unpaid_holds(integer);
DROP FUNCTION IF EXISTS cancel_appointment(uuid, text, text);
DROP FUNCTION IF EXISTS reschedule_appointment(uuid, uuid, text, text);
DROP FUNCTION IF EXISTS book_appointment(uuid, uuid, text, text, jsonb);
DROP FUNCTION IF EXISTS claim_booking_request(text, text, text, jsonb);
DROP FUNCTION IF EXISTS booking_response_body(uuid);
DROP FUNCTION IF EXISTS to_api_time(timestamptz);
