-- 00012 — the webhook pipeline's state machine: ingest → claim (lease) → settle → retry with
-- backoff → dead letter → replay, plus the provider accounts events arrive through and the
-- message log that delivery callbacks update.
--   pending ──claim──▶ processing ──complete──▶ success
--      ▲                  │  └──fail──▶ failed ──(next_attempt_at)──▶ processing …
--      │                  └──fail, attempts ≥ max (or permanent)──▶ dead_letter
--      └──────────────────────────── replay ◀───────────────────────────┘
-- A claim leases the row until locked_until (= next_attempt_at while processing), so a killed
-- worker's events become claimable again on their own. Every claim counts as an attempt: an
-- event that crashes its worker every time still reaches dead_letter.
-- webhook_events, integrations, notifications and inbound_messages are created empty in this
-- release, so columns and indexes are added without the online-migration dance.

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- integrations: secrets are referenced by the name of their environment variable, never stored.
ALTER TABLE integrations
  ADD COLUMN secret_ref text NOT NULL DEFAULT '',
  ADD COLUMN account_ref text,
  ADD COLUMN is_active boolean NOT NULL DEFAULT true;
UPDATE integrations SET secret_ref = CASE provider WHEN 'stripe' THEN 'STRIPE_WEBHOOK_SECRET'
  WHEN 'twilio' THEN 'TWILIO_AUTH_TOKEN' WHEN 'whatsapp' THEN 'WHATSAPP_APP_SECRET' ELSE 'DAILY_WEBHOOK_SECRET' END
 WHERE secret_ref = '';
ALTER TABLE integrations ALTER COLUMN secret_ref DROP DEFAULT;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE integrations ADD CONSTRAINT integrations_secret_ref_names_provider CHECK (
  secret_ref ~ ('^' || CASE provider WHEN 'stripe' THEN 'STRIPE_WEBHOOK_SECRET' WHEN 'twilio' THEN 'TWILIO_AUTH_TOKEN'
                                     WHEN 'whatsapp' THEN 'WHATSAPP_APP_SECRET' ELSE 'DAILY_WEBHOOK_SECRET' END
                || '(_[A-Z0-9]+)*$'));
COMMENT ON COLUMN integrations.secret_ref IS 'Name of the environment variable holding this account''s secret(s), e.g. STRIPE_WEBHOOK_SECRET or STRIPE_WEBHOOK_SECRET_NORTHSIDE.';
COMMENT ON COLUMN integrations.account_ref IS 'The provider''s id of the account (Twilio AccountSid, WhatsApp phone_number_id), for operators.';
-- The default account of each provider, behind /webhooks/{provider}.
INSERT INTO integrations (id, provider, name, secret_ref) VALUES
  ('00000000-0000-4000-8000-000000000001', 'stripe', 'default', 'STRIPE_WEBHOOK_SECRET'),
  ('00000000-0000-4000-8000-000000000002', 'twilio', 'default', 'TWILIO_AUTH_TOKEN'),
  ('00000000-0000-4000-8000-000000000003', 'whatsapp', 'default', 'WHATSAPP_APP_SECRET'),
  ('00000000-0000-4000-8000-000000000004', 'daily', 'default', 'DAILY_WEBHOOK_SECRET')
ON CONFLICT (id) DO NOTHING;
GRANT INSERT (secret_ref, account_ref, is_active), UPDATE (secret_ref, account_ref, is_active) ON integrations TO carebook_admin;

-- webhook_events: what the worker and replay need beside the seed plan's columns.
-- Required columns without defaults: webhook_events was created empty by 00006 of this release.
ALTER TABLE webhook_events
  -- squawk-ignore adding-required-field
  ADD COLUMN provider text NOT NULL CHECK (provider IN ('stripe', 'twilio', 'whatsapp', 'daily')),
  -- squawk-ignore adding-required-field
  ADD COLUMN event_type text NOT NULL CHECK (length(event_type) BETWEEN 1 AND 200),
  -- squawk-ignore adding-required-field
  ADD COLUMN raw_body bytea NOT NULL,
  ADD COLUMN signed_headers jsonb NOT NULL DEFAULT '{}',
  -- squawk-ignore adding-required-field
  ADD COLUMN request_url text NOT NULL,
  ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now(),
  ADD COLUMN locked_by text,
  ADD COLUMN locked_until timestamptz,
  ADD COLUMN processed_by text,
  ADD COLUMN note text,
  ADD COLUMN replay_count integer NOT NULL DEFAULT 0;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_lease_when_processing
  CHECK ((status = 'processing') = (locked_by IS NOT NULL AND locked_until IS NOT NULL));
COMMENT ON COLUMN webhook_events.raw_body IS 'The request body exactly as received, so a replay can verify the signature again.';
COMMENT ON COLUMN webhook_events.signed_headers IS 'The signature headers as received (lower-case names).';
COMMENT ON COLUMN webhook_events.request_url IS 'The public URL the provider called (Twilio signs it).';
COMMENT ON COLUMN webhook_events.next_attempt_at IS 'When the event may next be claimed: now for new events, after the backoff for failed ones, the lease end while processing.';
COMMENT ON COLUMN webhook_events.locked_by IS 'The worker holding the lease while processing.';
COMMENT ON COLUMN webhook_events.note IS 'What the handler did, e.g. "ignored: no handler for charge.captured".';
-- The claim reads only rows that can be claimed; settled rows (the vast majority) stay out of it.
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX webhook_events_claimable_idx ON webhook_events (next_attempt_at)
  WHERE status IN ('pending', 'failed', 'processing');
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX webhook_events_dead_letter_idx ON webhook_events (provider, received_at) WHERE status = 'dead_letter';
-- Settled rows accumulate: vacuum this table early so the claim index stays small and dense.
ALTER TABLE webhook_events SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_insert_scale_factor = 0.05);

CREATE FUNCTION ingest_webhook_events(
  p_webhook_id uuid, p_provider text, p_events jsonb, p_raw_body bytea, p_signed_headers jsonb, p_request_url text,
  p_signature text
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
  IF v_inserted > 0 THEN
    PERFORM pg_notify('carebook_webhook_events', p_provider); -- delivered when this commits
  END IF;
  RETURN QUERY SELECT v_inserted, v_total - v_inserted;
END
$$;
COMMENT ON FUNCTION ingest_webhook_events(uuid, text, jsonb, bytea, jsonb, text, text) IS 'Stores verified events once each (duplicates by (webhook_id, event_id) are skipped) and wakes the workers.';

CREATE FUNCTION claim_webhook_events(p_worker text, p_limit integer, p_lease_seconds integer)
RETURNS TABLE (id uuid, webhook_id uuid, provider text, event_type text, event_id text, payload jsonb, attempts integer)
LANGUAGE sql
SET search_path = pg_catalog, public
AS $$
  WITH claimable AS (
    SELECT e.id FROM webhook_events e
     WHERE e.status IN ('pending', 'failed', 'processing') AND e.next_attempt_at <= now()
     ORDER BY e.next_attempt_at
     LIMIT p_limit
     FOR UPDATE SKIP LOCKED
  )
  UPDATE webhook_events e
     SET status = 'processing', locked_by = p_worker, locked_until = now() + make_interval(secs => p_lease_seconds),
         next_attempt_at = now() + make_interval(secs => p_lease_seconds),
         attempts = e.attempts + 1, last_attempt_at = now()
    FROM claimable c
   WHERE e.id = c.id
  RETURNING e.id, e.webhook_id, e.provider, e.event_type, e.event_id, e.payload, e.attempts
$$;
COMMENT ON FUNCTION claim_webhook_events(text, integer, integer) IS 'Leases up to p_limit ready events (new, due for retry, or with an expired lease) to p_worker. SKIP LOCKED: workers never wait on each other.';

CREATE FUNCTION complete_webhook_events(p_worker text, p_ids uuid[], p_notes text[])
RETURNS integer
LANGUAGE sql
SET search_path = pg_catalog, public
AS $$
  WITH settled AS (
    UPDATE webhook_events e
       SET status = 'success', processed_at = now(), processed_by = p_worker, note = n.note, error = NULL,
           locked_by = NULL, locked_until = NULL
      FROM unnest(p_ids, p_notes) AS n(id, note)
     WHERE e.id = n.id AND e.status = 'processing' AND e.locked_by = p_worker
    RETURNING 1
  )
  SELECT count(*)::integer FROM settled
$$;
COMMENT ON FUNCTION complete_webhook_events(text, uuid[], text[]) IS 'Marks events success — in the transaction that applied their effects — if p_worker still holds their lease. Returns how many it marked.';

CREATE FUNCTION fail_webhook_event(
  p_id uuid, p_worker text, p_error text, p_max_attempts integer, p_permanent boolean DEFAULT false,
  p_base_seconds double precision DEFAULT 5, p_cap_seconds double precision DEFAULT 3600,
  p_jitter double precision DEFAULT random()
) RETURNS text
LANGUAGE sql
SET search_path = pg_catalog, public
AS $$
  -- Exponential backoff with full jitter: wait a uniform share (p_jitter ∈ [0,1]) of
  -- min(cap, base · 2^(attempts−1)). Past the attempt budget, or for a permanent error: dead letter.
  UPDATE webhook_events
     SET status = CASE WHEN p_permanent OR attempts >= p_max_attempts THEN 'dead_letter' ELSE 'failed' END,
         error = left(p_error, 2000),
         next_attempt_at = now() + make_interval(secs =>
           greatest(0, least(1, p_jitter)) * least(p_cap_seconds, p_base_seconds * power(2, greatest(attempts - 1, 0)))),
         locked_by = NULL, locked_until = NULL
   WHERE id = p_id AND status = 'processing' AND locked_by = p_worker
  RETURNING status
$$;
COMMENT ON FUNCTION fail_webhook_event(uuid, text, text, integer, boolean, double precision, double precision, double precision) IS 'Settles a failed attempt: failed with a backoff, or dead_letter past p_max_attempts or when p_permanent.';

CREATE FUNCTION release_webhook_events(p_worker text, p_ids uuid[]) RETURNS integer
LANGUAGE sql
SET search_path = pg_catalog, public
AS $$
  -- Gives back leased events that were never handled (worker shutting down): the claim's attempt
  -- is taken back, and they are due again at once.
  WITH released AS (
    UPDATE webhook_events
       SET status = CASE WHEN attempts <= 1 THEN 'pending' ELSE 'failed' END, attempts = greatest(attempts - 1, 0),
           next_attempt_at = now(), locked_by = NULL, locked_until = NULL
     WHERE id = ANY (p_ids) AND status = 'processing' AND locked_by = p_worker
    RETURNING 1
  )
  SELECT count(*)::integer FROM released
$$;
COMMENT ON FUNCTION release_webhook_events(text, uuid[]) IS 'Returns unhandled leased events to the queue (graceful shutdown).';

CREATE FUNCTION replay_webhook_events(p_ids uuid[], p_reason text, p_filters jsonb DEFAULT '{}')
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_count integer;
BEGIN
  IF p_reason IS NULL OR length(btrim(p_reason)) < 3 THEN
    RAISE EXCEPTION 'a replay needs a reason' USING errcode = '22023';
  END IF;
  -- Only dead letters and failed events go back; an event that succeeded is never run again.
  UPDATE webhook_events
     SET status = 'pending', attempts = 0, next_attempt_at = now(), error = NULL, locked_by = NULL,
         locked_until = NULL, replay_count = replay_count + 1
   WHERE id = ANY (p_ids) AND status IN ('dead_letter', 'failed');
  GET DIAGNOSTICS v_count = ROW_COUNT;
  PERFORM audit.record('webhook.replay', NULL, 'webhook_events', NULL,
    jsonb_build_object('requested', coalesce(array_length(p_ids, 1), 0), 'replayed', v_count, 'filters', p_filters,
                       'ids', to_jsonb(p_ids[1:100])), p_reason);
  IF v_count > 0 THEN
    PERFORM pg_notify('carebook_webhook_events', 'replay');
  END IF;
  RETURN v_count;
END
$$;
COMMENT ON FUNCTION replay_webhook_events(uuid[], text, jsonb) IS 'Moves dead-letter (or failed) events back to pending with a fresh attempt budget, keeping their event_id; audited with actor and reason.';

CREATE FUNCTION webhook_queue_stats()
RETURNS TABLE (provider text, status text, events bigint, oldest_seconds double precision)
LANGUAGE sql STABLE
SET search_path = pg_catalog, public
AS $$
  SELECT provider, status, count(*),
         extract(epoch FROM now() - min(received_at) FILTER (WHERE status IN ('pending', 'failed', 'processing')))::double precision
    FROM webhook_events
   WHERE status <> 'success'
   GROUP BY provider, status
$$;
COMMENT ON FUNCTION webhook_queue_stats() IS 'Unsettled events by provider and status, with the age of the oldest, for metrics and the dashboard.';

-- notifications: outbound messages and the delivery status their providers report back.
CREATE TABLE notifications (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  clinic_id uuid NOT NULL REFERENCES clinics (id),
  patient_id uuid,
  appointment_id uuid,
  channel text NOT NULL CHECK (channel IN ('sms', 'whatsapp')),
  provider text NOT NULL CHECK (provider IN ('twilio', 'whatsapp')),
  provider_message_id text NOT NULL,
  purpose text NOT NULL DEFAULT 'other' CHECK (purpose IN ('confirmation', 'reminder', 'other')),
  status text NOT NULL DEFAULT 'queued',
  status_rank integer NOT NULL DEFAULT 1,
  status_history jsonb NOT NULL DEFAULT '[]',
  error_code text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (provider, provider_message_id),
  UNIQUE (clinic_id, id),
  FOREIGN KEY (clinic_id, patient_id) REFERENCES patients (clinic_id, id),
  FOREIGN KEY (clinic_id, appointment_id) REFERENCES appointments (clinic_id, id)
);
ALTER TABLE notifications ENABLE ROW LEVEL SECURITY;
ALTER TABLE notifications FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_staff_select ON notifications FOR SELECT TO carebook_app, carebook_readonly
  USING (clinic_id = app_clinic_id() AND app_role() IS DISTINCT FROM 'patient');
CREATE POLICY service_all ON notifications FOR ALL TO carebook_worker USING (true) WITH CHECK (true);
CREATE POLICY platform_admin_all ON notifications FOR ALL TO carebook_admin USING (true) WITH CHECK (true);
GRANT SELECT ON notifications TO carebook_app, carebook_readonly, carebook_admin;
GRANT SELECT, INSERT, UPDATE (status, status_rank, status_history, error_code) ON notifications TO carebook_worker;
COMMENT ON TABLE notifications IS 'Outbound SMS and WhatsApp messages; delivery callbacks move status forward, never back (status_rank).';
COMMENT ON COLUMN notifications.status_rank IS 'Order of status: queued 1, sending 2, sent 3, delivered 4, read/failed/undelivered 5. A callback of lower rank is logged in status_history only.';
COMMENT ON COLUMN notifications.status_history IS 'Every callback as received: [{status, at, event_id, error_code}].';
CREATE TRIGGER _100_set_updated_at BEFORE UPDATE ON notifications
  FOR EACH ROW EXECUTE FUNCTION tg__set_updated_at();

-- inbound_messages: what patients text us; replies that are not commands wait for staff.
CREATE TABLE inbound_messages (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  clinic_id uuid REFERENCES clinics (id),
  patient_id uuid,
  appointment_id uuid,
  channel text NOT NULL CHECK (channel IN ('sms', 'whatsapp')),
  provider text NOT NULL CHECK (provider IN ('twilio', 'whatsapp')),
  provider_message_id text NOT NULL,
  from_address text NOT NULL,
  body text NOT NULL DEFAULT '' CHECK (length(body) <= 5000),
  intent text NOT NULL CHECK (intent IN ('cancel', 'confirm', 'other')),
  outcome text NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (provider, provider_message_id),
  FOREIGN KEY (clinic_id, patient_id) REFERENCES patients (clinic_id, id),
  FOREIGN KEY (clinic_id, appointment_id) REFERENCES appointments (clinic_id, id)
);
ALTER TABLE inbound_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE inbound_messages FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_staff_select ON inbound_messages FOR SELECT TO carebook_app, carebook_readonly
  USING (clinic_id = app_clinic_id() AND app_role() IS DISTINCT FROM 'patient');
CREATE POLICY service_all ON inbound_messages FOR ALL TO carebook_worker USING (true) WITH CHECK (true);
CREATE POLICY platform_admin_all ON inbound_messages FOR ALL TO carebook_admin USING (true) WITH CHECK (true);
GRANT SELECT ON inbound_messages TO carebook_app, carebook_readonly, carebook_admin;
GRANT SELECT, INSERT, UPDATE (outcome, appointment_id) ON inbound_messages TO carebook_worker;
COMMENT ON TABLE inbound_messages IS 'Messages from patients (SMS, WhatsApp). C/CANCEL and Y/YES/CONFIRM act on the next appointment; anything else is kept for staff. Bodies are never logged.';
COMMENT ON COLUMN inbound_messages.clinic_id IS 'NULL when the sender''s number matches no patient.';
COMMENT ON COLUMN inbound_messages.outcome IS 'What was done: cancelled, confirmed, stored_for_staff, no_upcoming_appointment, unknown_sender.';

GRANT EXECUTE ON FUNCTION ingest_webhook_events(uuid, text, jsonb, bytea, jsonb, text, text),
  claim_webhook_events(text, integer, integer), complete_webhook_events(text, uuid[], text[]),
  fail_webhook_event(uuid, text, text, integer, boolean, double precision, double precision, double precision),
  release_webhook_events(text, uuid[]), webhook_queue_stats() TO carebook_worker;
GRANT EXECUTE ON FUNCTION replay_webhook_events(uuid[], text, jsonb), webhook_queue_stats() TO carebook_admin;
GRANT UPDATE (next_attempt_at, locked_by, locked_until, replay_count) ON webhook_events TO carebook_admin;
REVOKE EXECUTE ON FUNCTION ingest_webhook_events(uuid, text, jsonb, bytea, jsonb, text, text),
  claim_webhook_events(text, integer, integer), complete_webhook_events(text, uuid[], text[]),
  fail_webhook_event(uuid, text, text, integer, boolean, double precision, double precision, double precision),
  release_webhook_events(text, uuid[]), replay_webhook_events(uuid[], text, jsonb), webhook_queue_stats() FROM PUBLIC;

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
REVOKE UPDATE (next_attempt_at, locked_by, locked_until, replay_count) ON webhook_events FROM carebook_admin;
DROP TABLE IF EXISTS inbound_messages;
DROP TABLE IF EXISTS notifications;
DROP FUNCTION IF EXISTS webhook_queue_stats();
DROP FUNCTION IF EXISTS replay_webhook_events(uuid[], text, jsonb);
DROP FUNCTION IF EXISTS release_webhook_events(text, uuid[]);
DROP FUNCTION IF EXISTS fail_webhook_event(uuid, text, text, integer, boolean, double precision, double precision, double precision);
DROP FUNCTION IF EXISTS complete_webhook_events(text, uuid[], text[]);
DROP FUNCTION IF EXISTS claim_webhook_events(text, integer, integer);
DROP FUNCTION IF EXISTS ingest_webhook_events(uuid, text, jsonb, bytea, jsonb, text, text);
ALTER TABLE webhook_events RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_insert_scale_factor);
DROP INDEX IF EXISTS webhook_events_dead_letter_idx;
DROP INDEX IF EXISTS webhook_events_claimable_idx;
ALTER TABLE webhook_events DROP CONSTRAINT IF EXISTS webhook_events_lease_when_processing;
ALTER TABLE webhook_events
  DROP COLUMN IF EXISTS replay_count, DROP COLUMN IF EXISTS note, DROP COLUMN IF EXISTS processed_by,
  DROP COLUMN IF EXISTS locked_until, DROP COLUMN IF EXISTS locked_by, DROP COLUMN IF EXISTS next_attempt_at,
  DROP COLUMN IF EXISTS request_url, DROP COLUMN IF EXISTS signed_headers, DROP COLUMN IF EXISTS raw_body,
  DROP COLUMN IF EXISTS event_type, DROP COLUMN IF EXISTS provider;
-- The default accounts go unless events still refer to them (events are never deleted by a down).
DELETE FROM integrations i
 WHERE i.id IN ('00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002',
                '00000000-0000-4000-8000-000000000003', '00000000-0000-4000-8000-000000000004')
   AND NOT EXISTS (SELECT 1 FROM webhook_events e WHERE e.webhook_id = i.id);
REVOKE INSERT (secret_ref, account_ref, is_active), UPDATE (secret_ref, account_ref, is_active) ON integrations FROM carebook_admin;
ALTER TABLE integrations DROP CONSTRAINT IF EXISTS integrations_secret_ref_names_provider;
ALTER TABLE integrations DROP COLUMN IF EXISTS is_active, DROP COLUMN IF EXISTS account_ref, DROP COLUMN IF EXISTS secret_ref;
