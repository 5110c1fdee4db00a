-- 00015 — two fixes the webhook benchmark found (bench/webhooks.ts, docs/ops/runbook.md).
-- 1. claim_webhook_events: before PostgreSQL 18 a SQL function with SET search_path is planned
--    without its parameter values; with LIMIT p_limit guessed at 10 % of the table, the claim
--    chose a full scan of webhook_events — so settled rows slowed every claim (62 ms per claim
--    of 50 on 100,000 rows). Picking the ids in an ARRAY(…) subquery pins the claim to the
--    ordered partial index and the primary key, whatever the estimate (about 3 ms).
-- 2. ingest_webhook_events gains p_notify: NOTIFY serialises the commits of every notifying
--    transaction in the cluster, so ingestion wakes the workers at most every few milliseconds
--    per process instead of on every request (the workers also poll).

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE OR REPLACE FUNCTION claim_webhook_events(p_worker text, p_limit integer, p_lease_seconds integer)
RETURNS TABLE (id uuid, webhook_id uuid, provider text, event_type text, event_id text, payload jsonb, attempts integer)
LANGUAGE sql
SET search_path = pg_catalog, public
AS $$
  UPDATE webhook_events e
     SET status = 'processing', locked_by = p_worker, locked_until = now() + make_interval(secs => p_lease_seconds),
         next_attempt_at = now() + make_interval(secs => p_lease_seconds),
         attempts = e.attempts + 1, last_attempt_at = now()
   WHERE e.id = ANY (ARRAY(
           SELECT c.id FROM webhook_events c
            WHERE c.status IN ('pending', 'failed', 'processing') AND c.next_attempt_at <= now()
            ORDER BY c.next_attempt_at
            LIMIT p_limit
            FOR UPDATE SKIP LOCKED))
  RETURNING e.id, e.webhook_id, e.provider, e.event_type, e.event_id, e.payload, e.attempts
$$;

CREATE FUNCTION ingest_webhook_events(
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
COMMENT ON FUNCTION ingest_webhook_events(uuid, text, jsonb, bytea, jsonb, text, text, boolean) IS 'Stores verified events once each (duplicates by (webhook_id, event_id) are skipped) and, when p_notify, wakes the workers.';
REVOKE EXECUTE ON FUNCTION ingest_webhook_events(uuid, text, jsonb, bytea, jsonb, text, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ingest_webhook_events(uuid, text, jsonb, bytea, jsonb, text, text, boolean) TO carebook_worker;
DROP FUNCTION ingest_webhook_events(uuid, text, jsonb, bytea, jsonb, text, text);

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE OR REPLACE FUNCTION claim_webhook_events(p_worker text, p_limit integer, p_lease_seconds integer)
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
REVOKE EXECUTE ON FUNCTION ingest_webhook_events(uuid, text, jsonb, bytea, jsonb, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ingest_webhook_events(uuid, text, jsonb, bytea, jsonb, text, text) TO carebook_worker;
DROP FUNCTION ingest_webhook_events(uuid, text, jsonb, bytea, jsonb, text, text, boolean);
