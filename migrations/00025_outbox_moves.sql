-- 00025 — an appointment moved back to a start it had before gets its effects again; a replayed
-- message is looked up first; queue ages count from when a job is due.
--   * Reminders are keyed by offset and start (00022), and a second staging of a key did nothing:
--     moved A → B → A, the reminders of A stayed cancelled and the patient was never reminded.
--     stage_outbox now makes a row that was cancelled before it was sent pending again when the
--     same effect is staged again (a reminder already sent is not sent twice).
--   * The reschedule notice and the room's new window are keyed per move (the moving
--     transaction's id), not per start.
--   * replay_outbox: a message dead letter that was tried before goes to needs_reconcile, not
--     pending, so its last send (perhaps delivered, its reply lost) is looked up before a resend.
--   * queue_stats: a claim–call–settle job's age counts from its run_at once due, not from its
--     creation (reminders staged days ahead showed as days late on /admin and in alerts).

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE OR REPLACE FUNCTION stage_outbox(p_clinic_id uuid, p_kind text, p_appointment_id uuid, p_payment_id uuid, p_purpose text,
                             p_dedupe_key text, p_payload jsonb, p_run_at timestamptz, p_deadline_at timestamptz,
                             p_skipped text DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_id uuid;
BEGIN
  -- A second staging of the same effect (a repeated trigger, a replayed event) does nothing, but
  -- for one that was cancelled before it was sent and is wanted again (a visit moved back to a
  -- start it had): that row is pending again, with a new job. A cancelled row never reached the
  -- provider: cancel_outbox takes only rows no worker holds, and a worker cancels only what it did
  -- not send.
  INSERT INTO outbox (clinic_id, kind, appointment_id, payment_id, purpose, dedupe_key, payload, status, run_at,
                      deadline_at, note, settled_at)
  VALUES (p_clinic_id, p_kind, p_appointment_id, p_payment_id, p_purpose, p_dedupe_key, coalesce(p_payload, '{}'),
          CASE WHEN p_skipped IS NULL THEN 'pending' ELSE 'cancelled' END, p_run_at, p_deadline_at, p_skipped,
          CASE WHEN p_skipped IS NOT NULL THEN now() END)
  ON CONFLICT (clinic_id, dedupe_key) DO UPDATE
     SET status = 'pending', payload = excluded.payload, run_at = excluded.run_at, deadline_at = excluded.deadline_at,
         attempts = 0, note = NULL, last_error = NULL, first_attempt_at = NULL, settled_at = NULL
   WHERE outbox.status = 'cancelled' AND excluded.status = 'pending'
  RETURNING id INTO v_id;
  -- No NOTIFY: it would serialise the commits of every booking (ingest_webhook_events has the
  -- numbers); the outbox loops poll, and a payment's client_secret does not wait for them.
  IF v_id IS NOT NULL AND p_skipped IS NULL THEN
    PERFORM enqueue_queue_job('outbox.' || p_kind, v_id, p_run_at, false);
  END IF;
  RETURN v_id;
END
$$;

CREATE OR REPLACE FUNCTION tg_appointments__stage_outbox()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_start bigint := extract(epoch FROM NEW.starts_at)::bigint;
  v_move text;
  v_payment record;
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.status = 'confirmed' THEN
      PERFORM stage_confirmation(NEW);
    END IF;
    RETURN NULL;
  END IF;
  IF NEW.status IS DISTINCT FROM OLD.status THEN
    IF OLD.status = 'pending_payment' AND NEW.status = 'confirmed' THEN
      PERFORM stage_confirmation(NEW);
    ELSIF NEW.status IN ('cancelled', 'expired') THEN
      PERFORM cancel_outbox(NEW.id, ARRAY['message', 'room'], NULL,
        'the appointment was ' || NEW.status || ' first');
      -- A payment that will not be collected: its PaymentIntent is never created if no worker has
      -- it yet, else cancelled at Stripe (a payment that got paid in the race is refunded).
      FOR v_payment IN SELECT p.id, p.clinic_id FROM payments p
                        WHERE p.appointment_id = NEW.id AND p.status IN ('pending', 'failed') LOOP
        IF cancel_outbox(NEW.id, ARRAY['payment'], NULL, 'the appointment was ' || NEW.status || ' before it was paid') = 0 THEN
          PERFORM stage_outbox(v_payment.clinic_id, 'payment_cancel', NEW.id, v_payment.id, 'payment',
            'payment_cancel:' || v_payment.id,
            jsonb_build_object('reason', CASE WHEN NEW.status = 'expired' THEN 'abandoned' ELSE 'requested_by_customer' END),
            now(), NULL);
        END IF;
      END LOOP;
      IF OLD.status = 'confirmed' AND NEW.status = 'cancelled' THEN
        PERFORM stage_outbox(NEW.clinic_id, 'message', NEW.id, NULL, 'cancellation',
          'message:' || NEW.id || ':cancellation', '{}', now(), NEW.starts_at);
      END IF;
    END IF;
    IF NEW.status IN ('cancelled', 'expired', 'completed', 'no_show') AND OLD.visit_type = 'video' THEN
      PERFORM stage_outbox(NEW.clinic_id, 'room_delete', NEW.id, NULL, 'room', 'room_delete:' || NEW.id, '{}',
        now(), NULL);
    END IF;
  ELSIF NEW.starts_at IS DISTINCT FROM OLD.starts_at AND NEW.status IN ('pending_payment', 'confirmed') THEN
    -- A reschedule: the old start's reminders go, the new start's come; the room follows.
    -- Each move is its own effect: moved A → B → A → B, the second move to B is told too and the
    -- room follows it (keyed by the start alone, it was already settled and was staged no more).
    v_move := txid_current()::text;
    PERFORM cancel_outbox(NEW.id, ARRAY['message'], ARRAY['reminder'], 'the appointment was rescheduled');
    IF NEW.status = 'confirmed' THEN
      PERFORM stage_reminders(NEW);
      PERFORM stage_outbox(NEW.clinic_id, 'message', NEW.id, NULL, 'reschedule',
        'message:' || NEW.id || ':reschedule:' || v_start || ':' || v_move, '{}', now(), NEW.starts_at);
    END IF;
    IF NEW.visit_type = 'video' AND OLD.visit_type = 'video' THEN
      PERFORM stage_outbox(NEW.clinic_id, 'room_update', NEW.id, NULL, 'room',
        'room_update:' || NEW.id || ':' || v_start || ':' || v_move, '{}', now(), NEW.ends_at);
    ELSIF OLD.visit_type = 'video' THEN
      PERFORM cancel_outbox(NEW.id, ARRAY['room'], NULL, 'the appointment is no longer a video visit');
      PERFORM stage_outbox(NEW.clinic_id, 'room_delete', NEW.id, NULL, 'room', 'room_delete:' || NEW.id, '{}',
        now(), NULL);
    ELSIF NEW.visit_type = 'video' AND NEW.status = 'confirmed' THEN
      PERFORM stage_outbox(NEW.clinic_id, 'room', NEW.id, NULL, 'room', 'room:' || NEW.id, '{}', now(), NEW.ends_at);
    END IF;
  END IF;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION stage_outbox(uuid, text, uuid, uuid, text, text, jsonb, timestamptz, timestamptz, text) IS 'Stages an effect once per dedupe key, with its queue job (or, with p_skipped, records why it will not happen); a row cancelled before it was sent is pending again when staged again. Called by the staging triggers only.';

CREATE OR REPLACE FUNCTION queue_stats()
RETURNS TABLE (kind text, label text, state text, items bigint, oldest_seconds double precision)
LANGUAGE sql STABLE
SET search_path = pg_catalog, public
AS $$
  -- Each branch reads a partial index or the queue tables (queue_jobs holds the unsettled jobs,
  -- future reminders among them), never the settled events.
  SELECT 'webhooks', e.provider, e.status, count(*), extract(epoch FROM now() - min(e.received_at))::double precision
    FROM webhook_events e WHERE e.status IN ('pending', 'failed') GROUP BY e.provider, e.status
  UNION ALL
  SELECT 'webhooks', e.provider, 'dead_letter', count(*), NULL
    FROM webhook_events e WHERE e.status = 'dead_letter' GROUP BY e.provider
  UNION ALL
  SELECT b.kind, '', s.state, sum(cardinality(b.item_ids)), extract(epoch FROM now() - min(b.created_at))::double precision
    FROM queue_batches b
   CROSS JOIN LATERAL (SELECT CASE WHEN queue_batch_live(b.id) THEN 'in_flight' ELSE 'interrupted' END AS state) AS s
   GROUP BY b.kind, s.state
  UNION ALL
  -- Aged from when a job became due, not from when it was staged: a reminder staged days ahead
  -- is not late (and tools/queue_status.sh --max-age must not call it so); NULL while none is due.
  SELECT j.kind, '', s.state, count(*),
         extract(epoch FROM now() - min(j.run_at) FILTER (WHERE j.run_at <= now()))::double precision
    FROM queue_jobs j
   CROSS JOIN LATERAL (SELECT CASE WHEN j.dead_at IS NOT NULL THEN 'dead_letter'
                                   WHEN j.locked_by IS NOT NULL THEN 'in_flight'
                                   WHEN j.attempts > 0 THEN 'failed' ELSE 'pending' END AS state) AS s
   GROUP BY j.kind, s.state
  UNION ALL
  -- 00022: of an outbox kind's failed jobs, those whose outcome is unknown (looked up before any resend).
  SELECT j.kind, '', 'needs_reconcile', count(*), extract(epoch FROM now() - min(o.first_attempt_at))::double precision
    FROM queue_jobs j JOIN outbox o ON o.id = j.ref
   WHERE j.kind LIKE 'outbox.%' AND o.status = 'needs_reconcile'
   GROUP BY j.kind
$$;

CREATE OR REPLACE FUNCTION replay_outbox(p_ids uuid[])
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, public
AS $$
  -- A message tried before may have gone on its last attempt (neither SMS nor WhatsApp
  -- deduplicates): it is looked up before it is sent again.
  UPDATE outbox
     SET status = CASE WHEN status <> 'failed' THEN status
                       WHEN kind = 'message' AND attempts > 0 THEN 'needs_reconcile' ELSE 'pending' END,
         settled_at = NULL
   WHERE id = ANY (p_ids)
$$;
COMMENT ON FUNCTION replay_outbox(uuid[]) IS 'Puts replayed dead letters back to pending, or to needs_reconcile for a message tried before (their queue jobs were replayed by replay_queue_jobs, audited).';

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE OR REPLACE FUNCTION stage_outbox(p_clinic_id uuid, p_kind text, p_appointment_id uuid, p_payment_id uuid, p_purpose text,
                             p_dedupe_key text, p_payload jsonb, p_run_at timestamptz, p_deadline_at timestamptz,
                             p_skipped text DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_id uuid;
BEGIN
  -- A second staging of the same effect (a repeated trigger, a replayed event) does nothing.
  INSERT INTO outbox (clinic_id, kind, appointment_id, payment_id, purpose, dedupe_key, payload, status, run_at,
                      deadline_at, note, settled_at)
  VALUES (p_clinic_id, p_kind, p_appointment_id, p_payment_id, p_purpose, p_dedupe_key, coalesce(p_payload, '{}'),
          CASE WHEN p_skipped IS NULL THEN 'pending' ELSE 'cancelled' END, p_run_at, p_deadline_at, p_skipped,
          CASE WHEN p_skipped IS NOT NULL THEN now() END)
  ON CONFLICT (clinic_id, dedupe_key) DO NOTHING
  RETURNING id INTO v_id;
  -- No NOTIFY: it would serialise the commits of every booking (ingest_webhook_events has the
  -- numbers); the outbox loops poll, and a payment's client_secret does not wait for them.
  IF v_id IS NOT NULL AND p_skipped IS NULL THEN
    PERFORM enqueue_queue_job('outbox.' || p_kind, v_id, p_run_at, false);
  END IF;
  RETURN v_id;
END
$$;

CREATE OR REPLACE FUNCTION tg_appointments__stage_outbox()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_start bigint := extract(epoch FROM NEW.starts_at)::bigint;
  v_payment record;
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.status = 'confirmed' THEN
      PERFORM stage_confirmation(NEW);
    END IF;
    RETURN NULL;
  END IF;
  IF NEW.status IS DISTINCT FROM OLD.status THEN
    IF OLD.status = 'pending_payment' AND NEW.status = 'confirmed' THEN
      PERFORM stage_confirmation(NEW);
    ELSIF NEW.status IN ('cancelled', 'expired') THEN
      PERFORM cancel_outbox(NEW.id, ARRAY['message', 'room'], NULL,
        'the appointment was ' || NEW.status || ' first');
      -- A payment that will not be collected: its PaymentIntent is never created if no worker has
      -- it yet, else cancelled at Stripe (a payment that got paid in the race is refunded).
      FOR v_payment IN SELECT p.id, p.clinic_id FROM payments p
                        WHERE p.appointment_id = NEW.id AND p.status IN ('pending', 'failed') LOOP
        IF cancel_outbox(NEW.id, ARRAY['payment'], NULL, 'the appointment was ' || NEW.status || ' before it was paid') = 0 THEN
          PERFORM stage_outbox(v_payment.clinic_id, 'payment_cancel', NEW.id, v_payment.id, 'payment',
            'payment_cancel:' || v_payment.id,
            jsonb_build_object('reason', CASE WHEN NEW.status = 'expired' THEN 'abandoned' ELSE 'requested_by_customer' END),
            now(), NULL);
        END IF;
      END LOOP;
      IF OLD.status = 'confirmed' AND NEW.status = 'cancelled' THEN
        PERFORM stage_outbox(NEW.clinic_id, 'message', NEW.id, NULL, 'cancellation',
          'message:' || NEW.id || ':cancellation', '{}', now(), NEW.starts_at);
      END IF;
    END IF;
    IF NEW.status IN ('cancelled', 'expired', 'completed', 'no_show') AND OLD.visit_type = 'video' THEN
      PERFORM stage_outbox(NEW.clinic_id, 'room_delete', NEW.id, NULL, 'room', 'room_delete:' || NEW.id, '{}',
        now(), NULL);
    END IF;
  ELSIF NEW.starts_at IS DISTINCT FROM OLD.starts_at AND NEW.status IN ('pending_payment', 'confirmed') THEN
    -- A reschedule: the old start's reminders go, the new start's come; the room follows.
    PERFORM cancel_outbox(NEW.id, ARRAY['message'], ARRAY['reminder'], 'the appointment was rescheduled');
    IF NEW.status = 'confirmed' THEN
      PERFORM stage_reminders(NEW);
      PERFORM stage_outbox(NEW.clinic_id, 'message', NEW.id, NULL, 'reschedule',
        'message:' || NEW.id || ':reschedule:' || v_start, '{}', now(), NEW.starts_at);
    END IF;
    IF NEW.visit_type = 'video' AND OLD.visit_type = 'video' THEN
      PERFORM stage_outbox(NEW.clinic_id, 'room_update', NEW.id, NULL, 'room',
        'room_update:' || NEW.id || ':' || v_start, '{}', now(), NEW.ends_at);
    ELSIF OLD.visit_type = 'video' THEN
      PERFORM cancel_outbox(NEW.id, ARRAY['room'], NULL, 'the appointment is no longer a video visit');
      PERFORM stage_outbox(NEW.clinic_id, 'room_delete', NEW.id, NULL, 'room', 'room_delete:' || NEW.id, '{}',
        now(), NULL);
    ELSIF NEW.visit_type = 'video' AND NEW.status = 'confirmed' THEN
      PERFORM stage_outbox(NEW.clinic_id, 'room', NEW.id, NULL, 'room', 'room:' || NEW.id, '{}', now(), NEW.ends_at);
    END IF;
  END IF;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION stage_outbox(uuid, text, uuid, uuid, text, text, jsonb, timestamptz, timestamptz, text) IS 'Stages an effect once per dedupe key, with its queue job (or, with p_skipped, records why it will not happen). Called by the staging triggers only.';

CREATE OR REPLACE FUNCTION queue_stats()
RETURNS TABLE (kind text, label text, state text, items bigint, oldest_seconds double precision)
LANGUAGE sql STABLE
SET search_path = pg_catalog, public
AS $$
  -- Each branch reads a partial index (or the small queue tables), never the settled events.
  SELECT 'webhooks', e.provider, e.status, count(*), extract(epoch FROM now() - min(e.received_at))::double precision
    FROM webhook_events e WHERE e.status IN ('pending', 'failed') GROUP BY e.provider, e.status
  UNION ALL
  SELECT 'webhooks', e.provider, 'dead_letter', count(*), NULL
    FROM webhook_events e WHERE e.status = 'dead_letter' GROUP BY e.provider
  UNION ALL
  SELECT b.kind, '', s.state, sum(cardinality(b.item_ids)), extract(epoch FROM now() - min(b.created_at))::double precision
    FROM queue_batches b
   CROSS JOIN LATERAL (SELECT CASE WHEN queue_batch_live(b.id) THEN 'in_flight' ELSE 'interrupted' END AS state) AS s
   GROUP BY b.kind, s.state
  UNION ALL
  SELECT j.kind, '', s.state, count(*), extract(epoch FROM now() - min(j.created_at))::double precision
    FROM queue_jobs j
   CROSS JOIN LATERAL (SELECT CASE WHEN j.dead_at IS NOT NULL THEN 'dead_letter'
                                   WHEN j.locked_by IS NOT NULL THEN 'in_flight'
                                   WHEN j.attempts > 0 THEN 'failed' ELSE 'pending' END AS state) AS s
   GROUP BY j.kind, s.state
  UNION ALL
  -- 00022: of an outbox kind's failed jobs, those whose outcome is unknown (looked up before any resend).
  SELECT j.kind, '', 'needs_reconcile', count(*), extract(epoch FROM now() - min(o.first_attempt_at))::double precision
    FROM queue_jobs j JOIN outbox o ON o.id = j.ref
   WHERE j.kind LIKE 'outbox.%' AND o.status = 'needs_reconcile'
   GROUP BY j.kind
$$;

CREATE OR REPLACE FUNCTION replay_outbox(p_ids uuid[])
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, public
AS $$
  UPDATE outbox SET status = CASE WHEN status = 'failed' THEN 'pending' ELSE status END, settled_at = NULL
   WHERE id = ANY (p_ids)
$$;
COMMENT ON FUNCTION replay_outbox(uuid[]) IS 'Puts replayed dead letters back to pending (their queue jobs were replayed by replay_queue_jobs, audited).';
