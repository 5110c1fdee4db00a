-- 00022 — outbound work through a transactional outbox: Carebook creates the PaymentIntents, video
-- rooms and messages that the webhooks report on, each effect once at the provider.
--   * outbox: one row per effect, staged in the transaction of the booking change that causes it
--     (book, pay, expire, cancel, reschedule, complete) by triggers on appointments and payments
--     (a priced booking stages its PaymentIntent; reminders come with the confirmation),
--     so no path can forget one. A unique dedupe key per business effect, the request frozen where
--     the provider deduplicates by it, a status, run_at / deadline_at, the provider's reference. No
--     index on the columns a delivery changes (fillfactor 80), so its updates stay HOT.
--   * Each row is delivered by the queue core (00020) as a claim–call–settle job of kind
--     'outbox.<kind>'; outbox_kinds lists the kinds, which src/outbound defines.
--   * message_consent: numbers that replied STOP (START undoes it), per clinic; patients choose
--     SMS or WhatsApp (patients.message_channel); clinics set refund_cutoff_hours (a paid visit the
--     patient cancels later than that before its start keeps its payment; staff cancels refund).
--   * cancel_appointment applies the refund policy; record_inbound_message learns STOP/START.
--   * Rows in flight meanwhile are unaffected: every table and column here is new, and the two
--     replaced functions keep their signatures.

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- Settings of clinics and patients ---------------------------------------------------------------
ALTER TABLE clinics ADD COLUMN refund_cutoff_hours integer NOT NULL DEFAULT 0;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE clinics ADD CONSTRAINT clinics_refund_cutoff_hours_check CHECK (refund_cutoff_hours BETWEEN 0 AND 720);
GRANT INSERT (refund_cutoff_hours), UPDATE (refund_cutoff_hours) ON clinics TO carebook_admin;
COMMENT ON COLUMN clinics.refund_cutoff_hours IS 'A paid appointment the patient cancels at least this many hours before its start is refunded (0: always); staff cancellations are always refunded.';

ALTER TABLE patients ADD COLUMN message_channel text NOT NULL DEFAULT 'sms';
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE patients ADD CONSTRAINT patients_message_channel_check CHECK (message_channel IN ('sms', 'whatsapp'));
GRANT INSERT (message_channel), UPDATE (message_channel) ON patients TO carebook_app, carebook_admin;
COMMENT ON COLUMN patients.message_channel IS 'Where appointment messages go, to patients.phone: sms (default), or the chat channel.';

-- message_consent: numbers that opted out -----------------------------------------------------------
CREATE TABLE message_consent (
  clinic_id uuid NOT NULL REFERENCES clinics (id),
  phone text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
  opted_out boolean NOT NULL,
  changed_at timestamptz NOT NULL DEFAULT now(),
  source text NOT NULL CHECK (length(source) BETWEEN 1 AND 200),
  PRIMARY KEY (clinic_id, phone)
);
ALTER TABLE message_consent ENABLE ROW LEVEL SECURITY;
ALTER TABLE message_consent FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_staff_select ON message_consent FOR SELECT TO carebook_app, carebook_readonly
  USING (clinic_id = app_clinic_id() AND app_role() IN ('staff', 'clinic_admin'));
CREATE POLICY service_all ON message_consent FOR ALL TO carebook_worker USING (true) WITH CHECK (true);
CREATE POLICY platform_admin_all ON message_consent FOR ALL TO carebook_admin USING (true) WITH CHECK (true);
GRANT SELECT ON message_consent TO carebook_app, carebook_readonly, carebook_admin;
GRANT SELECT, INSERT (clinic_id, phone, opted_out, changed_at, source), UPDATE (opted_out, changed_at, source)
  ON message_consent TO carebook_worker;
COMMENT ON TABLE message_consent IS 'Whether a phone number takes appointment messages from a clinic: opted_out after STOP (or a provider''s opt-out error), back after START. No row: it does.';
COMMENT ON COLUMN message_consent.source IS 'What changed it, e.g. inbound:SM… or provider:21610.';

-- outbox_kinds and outbox -------------------------------------------------------------------------
CREATE TABLE outbox_kinds (
  name text PRIMARY KEY CHECK (name ~ '^[a-z][a-z_]{0,30}$'),
  description text NOT NULL
);
ALTER TABLE outbox_kinds ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbox_kinds FORCE ROW LEVEL SECURITY;
CREATE POLICY everyone_select ON outbox_kinds FOR SELECT
  TO carebook_app, carebook_worker, carebook_readonly, carebook_admin USING (true);
GRANT SELECT ON outbox_kinds TO carebook_app, carebook_worker, carebook_readonly, carebook_admin;
COMMENT ON TABLE outbox_kinds IS 'The effects the outbox delivers, one queue kind each (outbox.<name>); src/outbound defines how (test/outbound/outbox-kinds.test.ts keeps the two equal).';
INSERT INTO outbox_kinds (name, description) VALUES
  ('payment', 'create the PaymentIntent of a pending payment'),
  ('payment_cancel', 'cancel the PaymentIntent of a payment that will not be collected'),
  ('refund', 'refund a payment marked refund_required'),
  ('room', 'create the private video room of a confirmed video appointment'),
  ('room_update', 'move the room''s window after a reschedule'),
  ('room_delete', 'delete the room after a cancellation or completion'),
  ('message', 'send an appointment message (confirmation, reminder, reschedule, cancellation) by the patient''s channel');

CREATE TABLE outbox (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- No key to clinics of its own: the (clinic_id, appointment_id) key implies it, and each key is
  -- a check on every staged row, inside the booking's transaction.
  clinic_id uuid NOT NULL,
  kind text NOT NULL REFERENCES outbox_kinds (name),
  appointment_id uuid NOT NULL,
  payment_id uuid,
  purpose text NOT NULL CHECK (purpose IN ('payment', 'refund', 'room', 'confirmation', 'reminder', 'reschedule', 'cancellation')),
  dedupe_key text NOT NULL CHECK (length(dedupe_key) BETWEEN 1 AND 200),
  key_version integer NOT NULL DEFAULT 1 CHECK (key_version >= 1),
  payload jsonb NOT NULL DEFAULT '{}',
  status text NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'in_flight', 'needs_reconcile', 'succeeded', 'failed', 'cancelled', 'expired')),
  run_at timestamptz NOT NULL DEFAULT now(),
  deadline_at timestamptz,
  attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  provider_ref text CHECK (length(provider_ref) <= 200),
  note text CHECK (length(note) <= 500),
  last_error text CHECK (length(last_error) <= 2000),
  first_attempt_at timestamptz,
  settled_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT outbox_clinic_id_dedupe_key_key UNIQUE (clinic_id, dedupe_key),
  CONSTRAINT outbox_clinic_id_id_key UNIQUE (clinic_id, id),
  FOREIGN KEY (clinic_id, appointment_id) REFERENCES appointments (clinic_id, id),
  FOREIGN KEY (clinic_id, payment_id) REFERENCES payments (clinic_id, id)
) WITH (fillfactor = 80);
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX outbox_appointment_idx ON outbox (appointment_id);
ALTER TABLE outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_staff_select ON outbox FOR SELECT TO carebook_app, carebook_readonly
  USING (clinic_id = app_clinic_id() AND app_role() IN ('staff', 'clinic_admin'));
-- A patient reads the rows of their own appointments (their payment's PaymentIntent).
CREATE POLICY patient_own_select ON outbox FOR SELECT TO carebook_app
  USING (clinic_id = app_clinic_id() AND app_role() = 'patient'
         AND EXISTS (SELECT 1 FROM appointments a WHERE a.id = outbox.appointment_id AND a.patient_id = app_patient_id()));
CREATE POLICY service_all ON outbox FOR ALL TO carebook_worker USING (true) WITH CHECK (true);
CREATE POLICY platform_admin_all ON outbox FOR ALL TO carebook_admin USING (true) WITH CHECK (true);
GRANT SELECT ON outbox TO carebook_app, carebook_readonly, carebook_admin, carebook_worker;
GRANT UPDATE (status, payload, attempts, provider_ref, note, last_error, first_attempt_at, settled_at, key_version)
  ON outbox TO carebook_worker;
GRANT UPDATE (status, note, last_error, settled_at) ON outbox TO carebook_admin;
COMMENT ON TABLE outbox IS 'Effects at providers, staged in the transaction that causes them and delivered by the queue core (queue_jobs kind outbox.<kind>, ref = id), each once per dedupe_key.';
COMMENT ON COLUMN outbox.dedupe_key IS 'The business effect, e.g. payment:{payment_id} or message:{appointment}:reminder:86400:{start}; with key_version it is the payment provider''s Idempotency-Key.';
COMMENT ON COLUMN outbox.payload IS 'What the request needs that current data cannot give: frozen amounts, the message as first sent (so a lookup can recognise it). Never a client_secret or a token.';
COMMENT ON COLUMN outbox.status IS 'pending → in_flight → succeeded | failed (dead letter) | cancelled (no longer wanted, or skipped: see note) | expired (past deadline_at); needs_reconcile: the provider may have done it and has no idempotency: it is looked up before any resend.';
COMMENT ON COLUMN outbox.deadline_at IS 'Never delivered after this (a reminder after the visit starts): then expired.';
COMMENT ON COLUMN outbox.provider_ref IS 'The provider''s id of the effect: pi_…, re_…, the room name, SM…, wamid….';
CREATE TRIGGER _100_set_updated_at BEFORE UPDATE ON outbox FOR EACH ROW EXECUTE FUNCTION tg__set_updated_at();

-- Grants for the worker's settles: the room name on the appointment, the message log's link.
GRANT UPDATE (video_room_name) ON appointments TO carebook_worker;
ALTER TABLE notifications ADD COLUMN outbox_id uuid;
-- squawk-ignore adding-foreign-key-constraint
ALTER TABLE notifications ADD CONSTRAINT notifications_outbox_fkey FOREIGN KEY (clinic_id, outbox_id)
  REFERENCES outbox (clinic_id, id) NOT VALID;
GRANT UPDATE (outbox_id) ON notifications TO carebook_worker;
COMMENT ON COLUMN notifications.outbox_id IS 'The outbox row that sent it (NULL for messages sent before 00022).';
-- Validated by 00023, outside this transaction.
ALTER TABLE notifications DROP CONSTRAINT notifications_purpose_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_purpose_check
  CHECK (purpose IN ('confirmation', 'reminder', 'reschedule', 'cancellation', 'other')) NOT VALID;
ALTER TABLE inbound_messages DROP CONSTRAINT inbound_messages_intent_check;
ALTER TABLE inbound_messages ADD CONSTRAINT inbound_messages_intent_check
  CHECK (intent IN ('cancel', 'confirm', 'stop', 'start', 'other')) NOT VALID;

-- Staging ------------------------------------------------------------------------------------------
CREATE FUNCTION stage_outbox(p_clinic_id uuid, p_kind text, p_appointment_id uuid, p_payment_id uuid, p_purpose text,
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
COMMENT ON FUNCTION stage_outbox(uuid, text, uuid, uuid, text, text, jsonb, timestamptz, timestamptz, text) IS 'Stages an effect once per dedupe key, with its queue job (or, with p_skipped, records why it will not happen). Called by the staging triggers only.';

CREATE FUNCTION cancel_outbox(p_appointment_id uuid, p_kinds text[], p_purposes text[], p_note text)
RETURNS integer
LANGUAGE sql
SET search_path = pg_catalog, public
AS $$
  -- Only rows no worker holds: one in flight finishes, and its own checks see the new state.
  WITH waiting AS (
    SELECT o.id FROM outbox o
     WHERE o.appointment_id = p_appointment_id AND o.status = 'pending' AND o.kind = ANY (p_kinds)
       AND (p_purposes IS NULL OR o.purpose = ANY (p_purposes))
       AND NOT EXISTS (SELECT 1 FROM queue_jobs j WHERE j.kind = 'outbox.' || o.kind AND j.ref = o.id
                         AND j.locked_by IS NOT NULL)
       FOR UPDATE OF o
  ), jobs AS (
    DELETE FROM queue_jobs j USING waiting w, outbox o WHERE o.id = w.id AND j.kind = 'outbox.' || o.kind AND j.ref = w.id
  ), cancelled AS (
    UPDATE outbox o SET status = 'cancelled', note = left(p_note, 500), settled_at = now()
      FROM waiting w WHERE o.id = w.id
    RETURNING 1
  )
  SELECT count(*)::integer FROM cancelled
$$;
COMMENT ON FUNCTION cancel_outbox(uuid, text[], text[], text) IS 'Cancels an appointment''s pending effects of the given kinds (and purposes) that no worker holds, with their queue jobs.';

CREATE FUNCTION outbox_reminder_offsets()
RETURNS integer[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, public
AS $$
  -- CAREBOOK_REMINDER_OFFSETS, as seconds, passed by the API in the booking's context; 24 h and 1 h.
  SELECT coalesce(string_to_array(nullif(current_setting('carebook.reminder_offsets', true), ''), ',')::integer[],
                  ARRAY[86400, 3600])
$$;
COMMENT ON FUNCTION outbox_reminder_offsets() IS 'Seconds before the start at which reminders go: carebook.reminder_offsets of the transaction, else 86400 and 3600.';

CREATE FUNCTION stage_reminders(p_appointment appointments)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_offset integer;
  v_at timestamptz;
  v_start bigint := extract(epoch FROM p_appointment.starts_at)::bigint;
BEGIN
  FOREACH v_offset IN ARRAY outbox_reminder_offsets() LOOP
    v_at := p_appointment.starts_at - make_interval(secs => v_offset);
    -- Booked inside the window: said explicitly (a cancelled row with its reason), never dropped.
    PERFORM stage_outbox(p_appointment.clinic_id, 'message', p_appointment.id, NULL, 'reminder',
      'message:' || p_appointment.id || ':reminder:' || v_offset || ':' || v_start,
      jsonb_build_object('offset_seconds', v_offset), v_at, p_appointment.starts_at,
      CASE WHEN v_at < now() THEN 'skipped: booked ' || round(extract(epoch FROM p_appointment.starts_at - now()) / 60)
                                  || ' min before the start, inside this reminder''s window' END);
  END LOOP;
END
$$;
COMMENT ON FUNCTION stage_reminders(appointments) IS 'Stages an appointment''s reminders for its current start (one per offset; skipped explicitly when already due).';

CREATE FUNCTION stage_confirmation(p_appointment appointments)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
BEGIN
  -- Reminders too: a hold that is never paid never gets any (staged with the booking, they would
  -- cost every booking transaction their rows, and be cancelled with most expired holds).
  PERFORM stage_reminders(p_appointment);
  PERFORM stage_outbox(p_appointment.clinic_id, 'message', p_appointment.id, NULL, 'confirmation',
    'message:' || p_appointment.id || ':confirmation', '{}', now(), p_appointment.starts_at);
  IF p_appointment.visit_type = 'video' THEN
    PERFORM stage_outbox(p_appointment.clinic_id, 'room', p_appointment.id, NULL, 'room',
      'room:' || p_appointment.id, '{}', now(), p_appointment.ends_at);
  END IF;
END
$$;
COMMENT ON FUNCTION stage_confirmation(appointments) IS 'Stages what a confirmed appointment gets: its reminders, the confirmation message and, for a video visit, its room.';

CREATE FUNCTION tg_appointments__stage_outbox()
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
COMMENT ON FUNCTION tg_appointments__stage_outbox() IS 'Trigger: stages the effects of a booking change in its own transaction — reminders, confirmation and room when confirmed (at booking when free, at payment when priced); on cancel or expiry the uncollected PaymentIntent cancelled, a cancellation notice, the room deleted; reminders and room moved on reschedule.';
REVOKE EXECUTE ON FUNCTION tg_appointments__stage_outbox() FROM PUBLIC;
-- WHEN clauses: a change that stages nothing (a priced booking's insert, most updates) never calls
-- the function, which the booking transaction would pay for.
CREATE TRIGGER _500_stage_outbox_insert AFTER INSERT ON appointments
  FOR EACH ROW WHEN (NEW.status = 'confirmed') EXECUTE FUNCTION tg_appointments__stage_outbox();
CREATE TRIGGER _500_stage_outbox AFTER UPDATE OF status, starts_at ON appointments
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.starts_at IS DISTINCT FROM NEW.starts_at)
  EXECUTE FUNCTION tg_appointments__stage_outbox();

CREATE FUNCTION tg_payments__stage_outbox()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_hold_expires_at timestamptz;
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT a.hold_expires_at INTO v_hold_expires_at FROM appointments a WHERE a.id = NEW.appointment_id;
    IF NEW.status = 'pending' THEN
      -- Frozen: Stripe refuses the same Idempotency-Key with other parameters.
      PERFORM stage_outbox(NEW.clinic_id, 'payment', NEW.appointment_id, NEW.id, 'payment', 'payment:' || NEW.id,
        jsonb_build_object('amount_cents', NEW.amount_cents, 'currency', NEW.currency), now(), v_hold_expires_at);
    END IF;
    RETURN NULL;
  END IF;
  IF NEW.status = OLD.status THEN
    RETURN NULL;
  END IF;
  IF NEW.status = 'refund_required' THEN
    PERFORM stage_outbox(NEW.clinic_id, 'refund', NEW.appointment_id, NEW.id, 'refund', 'refund:' || NEW.id,
      jsonb_build_object('reason', 'requested_by_customer'), now(), NULL);
  END IF;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION tg_payments__stage_outbox() IS 'Trigger: stages a pending payment''s PaymentIntent and the refund of a payment marked refund_required.';
REVOKE EXECUTE ON FUNCTION tg_payments__stage_outbox() FROM PUBLIC;
CREATE TRIGGER _500_stage_outbox_insert AFTER INSERT ON payments
  FOR EACH ROW WHEN (NEW.status = 'pending') EXECUTE FUNCTION tg_payments__stage_outbox();
CREATE TRIGGER _500_stage_outbox AFTER UPDATE OF status ON payments
  FOR EACH ROW WHEN (NEW.status = 'refund_required' AND OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION tg_payments__stage_outbox();
REVOKE EXECUTE ON FUNCTION stage_outbox(uuid, text, uuid, uuid, text, text, jsonb, timestamptz, timestamptz, text),
  cancel_outbox(uuid, text[], text[], text), stage_reminders(appointments), stage_confirmation(appointments) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outbox_reminder_offsets() TO carebook_app, carebook_worker;
-- The staging triggers run as the migrations' owner (SECURITY DEFINER, like the audit trigger), so
-- that booking roles get no privilege on the outbox or the queue. FORCE ROW LEVEL SECURITY binds
-- that owner too (when it is not a superuser): these policies admit it, and only it.
CREATE POLICY migrations_owner_stage ON outbox FOR ALL TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY migrations_owner_stage ON queue_jobs FOR ALL TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY migrations_owner_read ON appointments FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY migrations_owner_read ON payments FOR SELECT TO CURRENT_USER USING (true);

-- The queues' numbers count outbox rows awaiting reconciliation too ---------------------------
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

COMMENT ON FUNCTION queue_stats() IS 'Unsettled work by kind, label (the provider, for webhooks) and state (pending, failed, in_flight, interrupted: in a batch that did not commit, dead_letter; needs_reconcile: failed outbox jobs whose outcome is unknown), with the age of the oldest, for metrics, /admin and carebook status.';

-- Delivery (the worker) ----------------------------------------------------------------------------
CREATE FUNCTION outbox_deliveries(p_ids uuid[])
RETURNS TABLE (
  id uuid, kind text, purpose text, dedupe_key text, key_version integer, payload jsonb, status text, attempts integer,
  provider_ref text, deadline_at timestamptz, first_attempt_at timestamptz,
  clinic_id uuid, clinic_name text, clinic_timezone text,
  appointment_id uuid, appointment_status text, starts_at timestamptz, ends_at timestamptz, visit_type text,
  video_room_name text, patient_id uuid, patient_phone text, message_channel text, opted_out boolean,
  payment_id uuid, payment_status text, amount_cents integer, currency text, provider_payment_id text,
  room_status text, room_ref text, payment_create_status text
)
LANGUAGE sql
SET search_path = pg_catalog, public
AS $$
  -- In the claim's transaction: marks the rows in flight (a row awaiting reconciliation stays so)
  -- and returns each with the current state of what it is about, which every delivery re-checks.
  WITH claimed AS (
    UPDATE outbox o
       SET status = CASE WHEN o.status = 'needs_reconcile' THEN o.status ELSE 'in_flight' END,
           attempts = o.attempts + 1, first_attempt_at = coalesce(o.first_attempt_at, now())
     WHERE o.id = ANY (p_ids) AND o.status IN ('pending', 'in_flight', 'needs_reconcile')
    RETURNING o.*
  )
  SELECT c.id, c.kind, c.purpose, c.dedupe_key, c.key_version, c.payload, c.status, c.attempts, c.provider_ref,
         c.deadline_at, c.first_attempt_at,
         cl.id, cl.name, cl.timezone,
         a.id, a.status, a.starts_at, a.ends_at, a.visit_type, a.video_room_name,
         pa.id, pa.phone, pa.message_channel, coalesce(mc.opted_out, false),
         p.id, p.status, p.amount_cents, p.currency, p.provider_payment_id,
         room.status, room.provider_ref, pc.status
    FROM claimed c
    JOIN clinics cl ON cl.id = c.clinic_id
    JOIN appointments a ON a.id = c.appointment_id
    JOIN patients pa ON pa.id = a.patient_id
    LEFT JOIN message_consent mc ON mc.clinic_id = c.clinic_id AND mc.phone = pa.phone
    LEFT JOIN payments p ON p.id = c.payment_id
    LEFT JOIN outbox room ON room.appointment_id = c.appointment_id AND room.kind = 'room'
    LEFT JOIN outbox pc ON pc.appointment_id = c.appointment_id AND pc.kind = 'payment' AND pc.payment_id = c.payment_id
$$;
COMMENT ON FUNCTION outbox_deliveries(uuid[]) IS 'Marks claimed outbox rows in flight and returns them with their appointment, patient (phone, channel, consent), payment and the state of the effects they depend on (the room, the PaymentIntent''s creation).';

CREATE FUNCTION settle_outbox(p_ids uuid[], p_statuses text[], p_refs text[], p_notes text[], p_payloads jsonb[])
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
BEGIN
  WITH settled AS (
    UPDATE outbox o
       SET status = s.status, provider_ref = coalesce(s.ref, o.provider_ref), note = left(s.note, 500),
           payload = o.payload || coalesce(s.payload, '{}'), last_error = NULL, settled_at = now()
      FROM unnest(p_ids, p_statuses, p_refs, p_notes, p_payloads) AS s(id, status, ref, note, payload)
     WHERE o.id = s.id
    RETURNING o.*
  ), payments_known AS (
    UPDATE payments p SET provider_payment_id = s.provider_ref
      FROM settled s
     WHERE s.kind = 'payment' AND s.status = 'succeeded' AND p.id = s.payment_id AND p.provider_payment_id IS NULL
  ), rooms_known AS (
    UPDATE appointments a SET video_room_name = s.provider_ref
      FROM settled s
     WHERE s.kind = 'room' AND s.status = 'succeeded' AND a.id = s.appointment_id
       AND a.video_room_name IS DISTINCT FROM s.provider_ref
  ), opted_out AS (
    -- The provider refused the number as unsubscribed: nothing more goes to it until START.
    INSERT INTO message_consent (clinic_id, phone, opted_out, source)
    SELECT s.clinic_id, s.payload ->> 'to', true, 'provider:' || (s.payload ->> 'opted_out_code')
      FROM settled s WHERE s.payload ? 'opted_out_code'
    ON CONFLICT (clinic_id, phone) DO UPDATE SET opted_out = true, changed_at = now(), source = excluded.source
  )
  -- The message log the status callbacks update (apply_message_status).
  INSERT INTO notifications (clinic_id, patient_id, appointment_id, channel, provider, provider_message_id, purpose,
                             outbox_id)
  SELECT s.clinic_id, a.patient_id, s.appointment_id, s.payload ->> 'channel', s.payload ->> 'provider', s.provider_ref,
         s.purpose, s.id
    FROM settled s JOIN appointments a ON a.id = s.appointment_id
   WHERE s.kind = 'message' AND s.status = 'succeeded' AND s.provider_ref IS NOT NULL
  ON CONFLICT (provider, provider_message_id) DO UPDATE SET outbox_id = excluded.outbox_id;
END
$$;
COMMENT ON FUNCTION settle_outbox(uuid[], text[], text[], text[], jsonb[]) IS 'Settles delivered outbox rows (succeeded, cancelled or expired) with what each did, and records its effect: the PaymentIntent id on the payment, the room name on the appointment, the message in notifications, an opt-out the provider reported.';

CREATE FUNCTION fail_outbox(p_ids uuid[], p_statuses text[], p_errors text[])
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, public
AS $$
  -- pending: retried after the backoff (pending_new_key: under the next key version, Stripe having
  -- stored a failure for this one); needs_reconcile: looked up before any resend; failed: a dead
  -- letter (replay puts it back).
  UPDATE outbox o
     SET status = CASE f.status WHEN 'pending_new_key' THEN 'pending' ELSE f.status END,
         key_version = o.key_version + CASE f.status WHEN 'pending_new_key' THEN 1 ELSE 0 END,
         last_error = left(f.error, 2000),
         settled_at = CASE WHEN f.status = 'failed' THEN now() END
    FROM unnest(p_ids, p_statuses, p_errors) AS f(id, status, error)
   WHERE o.id = f.id
$$;
COMMENT ON FUNCTION fail_outbox(uuid[], text[], text[]) IS 'Records a failed delivery: pending again (backoff; pending_new_key: with the next key version), needs_reconcile (outcome unknown, no idempotency at the provider), or failed (dead letter).';

CREATE FUNCTION replay_outbox(p_ids uuid[])
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, public
AS $$
  UPDATE outbox SET status = CASE WHEN status = 'failed' THEN 'pending' ELSE status END, settled_at = NULL
   WHERE id = ANY (p_ids)
$$;
COMMENT ON FUNCTION replay_outbox(uuid[]) IS 'Puts replayed dead letters back to pending (their queue jobs were replayed by replay_queue_jobs, audited).';

CREATE FUNCTION link_message_to_outbox(p_integration_id uuid, p_outbox_id uuid, p_provider text, p_message_id text)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_scope record;
  v_row outbox%ROWTYPE;
BEGIN
  SELECT * INTO v_scope FROM integration_scope(p_integration_id);
  SELECT * INTO v_row FROM outbox WHERE id = p_outbox_id AND kind = 'message' FOR UPDATE;
  IF NOT FOUND THEN
    RETURN 'no outbox message ' || p_outbox_id;
  END IF;
  IF NOT coalesce(v_scope.platform_wide, false) AND v_row.clinic_id IS DISTINCT FROM v_scope.clinic_id THEN
    RETURN refuse_cross_clinic(p_integration_id, 'outbox', v_row.id);
  END IF;
  -- The provider reports a message we sent: if our reply was lost, this is how we learn its id.
  IF v_row.provider_ref IS NULL THEN
    UPDATE outbox SET provider_ref = p_message_id WHERE id = v_row.id;
  END IF;
  INSERT INTO notifications (clinic_id, patient_id, appointment_id, channel, provider, provider_message_id, purpose,
                             outbox_id)
  SELECT v_row.clinic_id, a.patient_id, v_row.appointment_id, coalesce(v_row.payload ->> 'channel', p_provider),
         p_provider, p_message_id, v_row.purpose, v_row.id
    FROM appointments a WHERE a.id = v_row.appointment_id
  ON CONFLICT (provider, provider_message_id) DO NOTHING;
  RETURN 'linked';
END
$$;
COMMENT ON FUNCTION link_message_to_outbox(uuid, uuid, text, text) IS 'A status callback naming the outbox row it belongs to (biz_opaque_callback_data): records the message id on the row and in notifications, within the integration''s clinic.';

GRANT EXECUTE ON FUNCTION outbox_deliveries(uuid[]), settle_outbox(uuid[], text[], text[], text[], jsonb[]),
  fail_outbox(uuid[], text[], text[]), link_message_to_outbox(uuid, uuid, text, text) TO carebook_worker;
GRANT EXECUTE ON FUNCTION replay_outbox(uuid[]) TO carebook_admin;
REVOKE EXECUTE ON FUNCTION outbox_deliveries(uuid[]), settle_outbox(uuid[], text[], text[], text[], jsonb[]),
  fail_outbox(uuid[], text[], text[]), link_message_to_outbox(uuid, uuid, text, text), replay_outbox(uuid[])
  FROM PUBLIC;

-- The refund policy, and STOP/START -----------------------------------------------------------------
CREATE OR REPLACE FUNCTION public.cancel_appointment(p_appointment_id uuid, p_cancelled_by text, p_reason text DEFAULT NULL::text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public'
AS $function$
DECLARE
  v_appointment appointments%ROWTYPE;
  v_refund boolean;
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
  -- 00022: money already taken goes back when the clinic cancels, or when the patient (through
  -- the API or a reply) cancels at least refund_cutoff_hours before the start; a payment still
  -- pending will never be collected.
  SELECT app_role() NOT IN ('patient', 'service')
         OR now() <= v_appointment.starts_at - make_interval(hours => c.refund_cutoff_hours)
    INTO v_refund FROM clinics c WHERE c.id = v_appointment.clinic_id;
  UPDATE payments SET status = CASE status WHEN 'succeeded' THEN 'refund_required' ELSE 'cancelled' END
   WHERE appointment_id = v_appointment.id AND (status = 'pending' OR (status = 'succeeded' AND v_refund));
  PERFORM audit.record('appointment.cancel', v_appointment.clinic_id, 'appointments', v_appointment.id,
    jsonb_build_object('cancelled_by', p_cancelled_by, 'refund', v_refund));
  RETURN booking_response_body(v_appointment.id);
END
$function$
;
CREATE OR REPLACE FUNCTION public.record_inbound_message(p_integration_id uuid, p_provider text, p_channel text, p_message_id text, p_from text, p_body text, p_at timestamp with time zone)
 RETURNS text
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public'
AS $function$
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
  -- 00022: STOP and START (Twilio's opt-out and opt-in words, also honoured on WhatsApp). CANCEL
  -- stays ours: it cancels the next appointment.
  v_intent := CASE WHEN v_command IN ('C', 'CANCEL') THEN 'cancel'
                   WHEN v_command IN ('Y', 'YES', 'CONFIRM') THEN 'confirm'
                   WHEN v_command IN ('STOP', 'STOPALL', 'UNSUBSCRIBE', 'END', 'QUIT', 'REVOKE', 'OPTOUT') THEN 'stop'
                   WHEN v_command IN ('START', 'UNSTOP') THEN 'start' ELSE 'other' END;
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

  IF v_intent IN ('stop', 'start') THEN
    -- Consent belongs to the number, in the integration's clinic; a platform-wide account's
    -- number speaks for every clinic the number is a patient of.
    INSERT INTO message_consent (clinic_id, phone, opted_out, changed_at, source)
    SELECT DISTINCT p.clinic_id, v_phone, v_intent = 'stop', p_at, 'inbound:' || left(p_message_id, 190)
      FROM patients p
     WHERE p.phone = v_phone AND (coalesce(v_scope.platform_wide, false) OR p.clinic_id = v_scope.clinic_id)
    ON CONFLICT (clinic_id, phone) DO UPDATE
      SET opted_out = excluded.opted_out, changed_at = excluded.changed_at, source = excluded.source
      WHERE message_consent.changed_at <= excluded.changed_at;
    v_outcome := CASE WHEN NOT FOUND AND v_clinics = 0 THEN 'unknown_sender'
                      WHEN v_intent = 'stop' THEN 'opted_out' ELSE 'opted_in' END;
    UPDATE inbound_messages SET outcome = v_outcome WHERE id = v_id;
    RETURN v_outcome;
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
$function$
;
COMMENT ON FUNCTION record_inbound_message(uuid, text, text, text, text, text, timestamptz) IS 'Stores a patient''s message once and acts on it within the integration''s clinic: C/CANCEL cancels the next upcoming appointment, Y/YES/CONFIRM records the confirmation, STOP/START switch appointment messages to the number off and on, anything else waits for staff.';
COMMENT ON FUNCTION cancel_appointment(uuid, text, text) IS 'Cancels an active appointment, frees its slot, cancels a pending payment, and marks a paid one refund_required when the clinic cancels or the patient does before refund_cutoff_hours. Idempotent.';

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
CREATE OR REPLACE FUNCTION public.record_inbound_message(p_integration_id uuid, p_provider text, p_channel text, p_message_id text, p_from text, p_body text, p_at timestamp with time zone)
 RETURNS text
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public'
AS $function$
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
$function$
;
COMMENT ON FUNCTION record_inbound_message(uuid, text, text, text, text, text, timestamptz) IS 'Stores a patient''s message once and acts on it within the integration''s clinic: C/CANCEL cancels the next upcoming appointment, Y/YES/CONFIRM records the confirmation, anything else waits for staff.';
CREATE OR REPLACE FUNCTION public.cancel_appointment(p_appointment_id uuid, p_cancelled_by text, p_reason text DEFAULT NULL::text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public'
AS $function$
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
$function$
;
COMMENT ON FUNCTION cancel_appointment(uuid, text, text) IS 'Cancels an active appointment, frees its slot, cancels a pending payment or marks a paid one refund_required. Idempotent.';
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
$$;

COMMENT ON FUNCTION queue_stats() IS 'Unsettled work by kind, label (the provider, for webhooks) and state (pending, failed, in_flight, interrupted: in a batch that did not commit, dead_letter), with the age of the oldest, for metrics, /admin and carebook status.';
DROP TRIGGER IF EXISTS _500_stage_outbox ON payments;
DROP TRIGGER IF EXISTS _500_stage_outbox_insert ON payments;
DROP TRIGGER IF EXISTS _500_stage_outbox ON appointments;
DROP TRIGGER IF EXISTS _500_stage_outbox_insert ON appointments;
DROP FUNCTION IF EXISTS tg_payments__stage_outbox();
DROP FUNCTION IF EXISTS tg_appointments__stage_outbox();
DROP FUNCTION IF EXISTS link_message_to_outbox(uuid, uuid, text, text);
DROP FUNCTION IF EXISTS replay_outbox(uuid[]);
DROP FUNCTION IF EXISTS fail_outbox(uuid[], text[], text[]);
DROP FUNCTION IF EXISTS settle_outbox(uuid[], text[], text[], text[], jsonb[]);
DROP FUNCTION IF EXISTS outbox_deliveries(uuid[]);
DROP FUNCTION IF EXISTS stage_confirmation(appointments);
DROP FUNCTION IF EXISTS stage_reminders(appointments);
DROP FUNCTION IF EXISTS outbox_reminder_offsets();
DROP FUNCTION IF EXISTS cancel_outbox(uuid, text[], text[], text);
DROP FUNCTION IF EXISTS stage_outbox(uuid, text, uuid, uuid, text, text, jsonb, timestamptz, timestamptz, text);
DROP POLICY IF EXISTS migrations_owner_read ON payments;
DROP POLICY IF EXISTS migrations_owner_read ON appointments;
DROP POLICY IF EXISTS migrations_owner_stage ON queue_jobs;
-- Outbox jobs are left to nobody: their kinds go with the outbox (inbound events are untouched).
DELETE FROM queue_jobs WHERE kind LIKE 'outbox.%';
DELETE FROM queue_rate_limits WHERE kind LIKE 'outbox.%';
ALTER TABLE inbound_messages DROP CONSTRAINT inbound_messages_intent_check;
UPDATE inbound_messages SET intent = 'other' WHERE intent IN ('stop', 'start');
ALTER TABLE inbound_messages ADD CONSTRAINT inbound_messages_intent_check CHECK (intent IN ('cancel', 'confirm', 'other'));
ALTER TABLE notifications DROP CONSTRAINT notifications_purpose_check;
UPDATE notifications SET purpose = 'other' WHERE purpose IN ('reschedule', 'cancellation');
ALTER TABLE notifications ADD CONSTRAINT notifications_purpose_check CHECK (purpose IN ('confirmation', 'reminder', 'other'));
REVOKE UPDATE (outbox_id) ON notifications FROM carebook_worker;
ALTER TABLE notifications DROP CONSTRAINT IF EXISTS notifications_outbox_fkey;
ALTER TABLE notifications DROP COLUMN IF EXISTS outbox_id;
REVOKE UPDATE (video_room_name) ON appointments FROM carebook_worker;
DROP TABLE IF EXISTS outbox;
DROP TABLE IF EXISTS outbox_kinds;
DROP TABLE IF EXISTS message_consent;
REVOKE INSERT (message_channel), UPDATE (message_channel) ON patients FROM carebook_app, carebook_admin;
ALTER TABLE patients DROP COLUMN IF EXISTS message_channel;
REVOKE INSERT (refund_cutoff_hours), UPDATE (refund_cutoff_hours) ON clinics FROM carebook_admin;
ALTER TABLE clinics DROP COLUMN IF EXISTS refund_cutoff_hours;
