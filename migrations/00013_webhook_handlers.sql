-- 00013 — the business effects of provider events, as procedures the worker calls inside the
-- transaction that marks the event success. Each is idempotent on its own (conditional on the
-- current state, keyed by provider ids) and tolerates events arriving out of order:
--   apply_payment_event    Stripe payment_intent.succeeded / payment_failed, charge.refunded
--   apply_message_status   Twilio and WhatsApp delivery callbacks (status never moves backwards)
--   record_inbound_message a patient's reply: C/CANCEL cancels, Y/YES/CONFIRM confirms, else kept
--   apply_video_event      Daily meeting.started / meeting.ended
-- Lock order as in 00011: appointment row first, then slot and payment rows.
-- Error CB101 (payment not found yet) is retryable: the event may have overtaken the one that
-- makes the payment known.

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

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

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
DROP FUNCTION IF EXISTS apply_video_event(text, text, timestamptz);
DROP FUNCTION IF EXISTS record_inbound_message(text, text, text, text, text, timestamptz);
DROP FUNCTION IF EXISTS apply_message_status(text, text, text, text, text, timestamptz);
DROP FUNCTION IF EXISTS apply_payment_event(uuid, text, text, text);
