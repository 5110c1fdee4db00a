-- 00020 — one queue engine (src/queue/) for inbound events and outbound work.
--   * Inbound webhook events are claimed inside the transaction that handles them (FOR UPDATE SKIP
--     LOCKED) and settled there, so each row is written once instead of twice (claim, then settle),
--     and the lease columns go. An attempt that dies with its worker still counts: before any
--     handler runs, the batch is recorded in queue_batches on a second connection (committed), and
--     the handling transaction holds an advisory lock named by the batch. A batch row whose lock is
--     free did not commit; the next claim counts one attempt for each of its unsettled events and
--     sends them to be retried one at a time, so a poison event reaches dead_letter on its own.
--   * Outbound work (claim, call with no transaction open, settle) keeps its lease in queue_jobs, a
--     narrow row per job that leaves when the job succeeds. Every settle is fenced by the lease: the
--     holder and the attempt it claimed. The wide record of each kind (the outbox) keeps the history.
--   * queue_rate_limits: the claims of a rate-limited kind in a sliding window, under a row lock, so
--     that any number of workers together stay under the provider's limit.
--   * queue_throughput: settled items per kind, label and 10-second bucket, written once per batch —
--     the dashboard's "handled in the last minute" without an index on every settled event.
--   * webhook_events sheds what every settle paid for and nothing read: the seed plan's (status,
--     attempts, processed_at) index, the processed-success index (replaced by queue_throughput) and
--     the request_id index (ingestion now stores a request only when one of its events is new, so
--     no request is ever deleted under its events; the foreign key is checked at commit). The
--     indexes go in 00021, CONCURRENTLY.
--   * Rows in flight while this runs (status processing) become failed, due now: they are retried.
--     Old workers must be stopped first (their procedures are gone; they fail without harm). The
--     retired lease columns stay, empty, until a later release drops them.

-- The hot functions are PL/pgSQL: before PostgreSQL 18 a SQL function with SET search_path is
-- planned again on every call (80–160 µs each, measured by bench/webhooks.ts's CPU probes), while
-- PL/pgSQL keeps its plans for the session. queue_retry_at has no SET clause so that it is inlined.

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '120s';

-- Backoff, stated once: full jitter over min(cap, base · 2^(attempts − 1)). -----------------------
CREATE FUNCTION queue_retry_at(p_attempts integer, p_base_seconds double precision, p_cap_seconds double precision,
                               p_jitter double precision)
RETURNS timestamptz
LANGUAGE sql STABLE
-- No SET clause, so the planner inlines it: it names built-ins only, which pg_catalog (searched
-- first, whatever the caller's search_path) provides.
AS $$
  SELECT now() + make_interval(secs => greatest(0, least(1, p_jitter))
                                       * least(p_cap_seconds, p_base_seconds * power(2, greatest(p_attempts - 1, 0))))
$$;
COMMENT ON FUNCTION queue_retry_at(integer, double precision, double precision, double precision) IS 'When a failed attempt may run again: exponential backoff with full jitter (p_jitter ∈ [0, 1] of min(cap, base · 2^(attempts − 1))).';

-- queue_batches: in-transaction batches whose handlers are running -------------------------------
CREATE SEQUENCE queue_batches_id_seq AS bigint;
CREATE TABLE queue_batches (
  id bigint PRIMARY KEY,
  kind text NOT NULL,
  item_ids uuid[] NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT queue_batches_kind_check CHECK (kind ~ '^[a-z][a-z0-9_.]{0,62}$'),
  CONSTRAINT queue_batches_items_check CHECK (cardinality(item_ids) BETWEEN 1 AND 1000)
);
ALTER SEQUENCE queue_batches_id_seq OWNED BY queue_batches.id;
ALTER TABLE queue_batches ENABLE ROW LEVEL SECURITY;
ALTER TABLE queue_batches FORCE ROW LEVEL SECURITY;
CREATE POLICY service_all ON queue_batches FOR ALL TO carebook_worker USING (true) WITH CHECK (true);
CREATE POLICY platform_admin_select ON queue_batches FOR SELECT TO carebook_admin USING (true);
GRANT SELECT, INSERT (id, kind, item_ids), DELETE ON queue_batches TO carebook_worker;
GRANT SELECT ON queue_batches TO carebook_admin;
GRANT USAGE ON SEQUENCE queue_batches_id_seq TO carebook_worker;
COMMENT ON TABLE queue_batches IS 'In-transaction batches being handled. The handling transaction holds the batch''s advisory lock (queue_batch_lock) and deletes its row when it commits; a row whose lock is free did not commit, and the next claim counts an attempt for its unsettled items.';
COMMENT ON COLUMN queue_batches.item_ids IS 'The items the batch claimed (webhook_events ids for the webhooks kind).';

CREATE FUNCTION record_queue_batch(p_id bigint, p_kind text, p_item_ids uuid[])
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
BEGIN
  -- The record guards against the worker dying, not the server: if the server crashes, the batch's
  -- own transaction is lost with it. So its commit need not wait for the WAL flush (visible at once).
  PERFORM set_config('synchronous_commit', 'off', true);
  INSERT INTO queue_batches (id, kind, item_ids) VALUES (p_id, p_kind, p_item_ids);
  RETURN p_id;
END
$$;
COMMENT ON FUNCTION record_queue_batch(bigint, text, uuid[]) IS 'Records a claimed batch before its handlers run (on a connection of its own, committed at once, asynchronously).';

-- 1128419650 is 'CBQB': the class of queue-batch advisory locks (two-key locks never collide with
-- the one-key locks of migrations and schedules). Held by the handling transaction until it ends.
CREATE FUNCTION queue_batch_lock(p_id bigint, p_wait boolean)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
BEGIN
  IF p_wait THEN
    PERFORM pg_advisory_xact_lock(1128419650, (p_id % 2147483647)::integer);
    RETURN true;
  END IF;
  RETURN pg_try_advisory_xact_lock(1128419650, (p_id % 2147483647)::integer);
END
$$;
COMMENT ON FUNCTION queue_batch_lock(bigint, boolean) IS 'Takes (p_wait) or tries the advisory lock of a queue batch, until this transaction ends.';

CREATE FUNCTION queue_batch_live(p_id bigint)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, public
AS $$
  SELECT EXISTS (SELECT 1 FROM pg_locks l
                  WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
                    AND l.classid = 1128419650 AND l.objid = ((p_id % 2147483647)::integer)::oid)
$$;
COMMENT ON FUNCTION queue_batch_live(bigint) IS 'Whether some transaction holds the batch''s lock (it is being handled), without taking it.';

CREATE FUNCTION begin_queue_batch()
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_batch bigint := nextval('queue_batches_id_seq');
BEGIN
  PERFORM queue_batch_lock(v_batch, true);
  RETURN v_batch;
END
$$;
COMMENT ON FUNCTION begin_queue_batch() IS 'A new batch id, whose advisory lock this transaction now holds.';

CREATE FUNCTION take_orphaned_queue_batches(p_kind text)
RETURNS SETOF uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_id bigint;
  v_items uuid[];
BEGIN
  -- No row lock while looking: a live batch's lock is held, so the try fails and its row is left
  -- alone. A batch that commits meanwhile deletes its row, and the DELETE below then finds nothing.
  FOR v_id IN SELECT b.id FROM queue_batches b WHERE b.kind = p_kind LOOP
    CONTINUE WHEN NOT queue_batch_lock(v_id, false);
    DELETE FROM queue_batches b WHERE b.id = v_id RETURNING b.item_ids INTO v_items;
    IF v_items IS NOT NULL THEN
      RETURN QUERY SELECT unnest(v_items);
    END IF;
    v_items := NULL;
  END LOOP;
END
$$;
COMMENT ON FUNCTION take_orphaned_queue_batches(text) IS 'Removes the batches of p_kind whose transaction ended without committing (a crash, a failure) and returns their items.';

-- webhook_events: claimed in the handling transaction, written once ------------------------------
UPDATE webhook_events
   SET status = 'failed', next_attempt_at = now(), locked_by = NULL, locked_until = NULL,
       error = coalesce(error, 'in flight while migration 00020 ran: retried')
 WHERE status = 'processing';
ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_lease_when_processing;
ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_status_check;
-- Validated by 00021, outside this transaction (VALIDATE here would hold this one's lock meanwhile).
ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_status_check
  CHECK (status IN ('pending', 'success', 'failed', 'dead_letter')) NOT VALID;
DROP FUNCTION claim_webhook_events(text, integer, integer);
DROP FUNCTION complete_webhook_events(text, uuid[], text[]);
DROP FUNCTION fail_webhook_event(uuid, text, text, integer, boolean, double precision, double precision, double precision);
DROP FUNCTION release_webhook_events(text, uuid[]);
DROP FUNCTION replay_webhook_events(uuid[], text, jsonb);
DROP FUNCTION webhook_queue_stats();
COMMENT ON COLUMN webhook_events.locked_by IS 'Retired by 00020 (events are claimed in the transaction that handles them); always NULL, dropped in a later release.';
COMMENT ON COLUMN webhook_events.locked_until IS 'Retired by 00020; always NULL, dropped in a later release.';
-- Checked at commit: ingestion inserts the events first and their request only if one is new.
ALTER TABLE webhook_events ALTER CONSTRAINT webhook_events_request_id_fkey DEFERRABLE INITIALLY DEFERRED;
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
  INSERT INTO webhook_events (webhook_id, provider, event_id, event_type, payload, idempotency_key, signature, request_id)
  SELECT p_webhook_id, p_provider, e.event_id, e.event_type, e.payload, e.idempotency_key, p_signature, v_request
    FROM jsonb_to_recordset(p_events) AS e(event_id text, event_type text, payload jsonb, idempotency_key text)
  ON CONFLICT (webhook_id, event_id) DO NOTHING;
  GET DIAGNOSTICS v_inserted = ROW_COUNT;
  -- A redelivery (every event stored already) stores nothing; otherwise the request its new events
  -- point to (the foreign key is checked at commit).
  IF v_inserted > 0 THEN
    INSERT INTO webhook_requests (id, webhook_id, raw_body, signed_headers, request_url)
    VALUES (v_request, p_webhook_id, p_raw_body, p_signed_headers, p_request_url);
    IF p_notify THEN
      PERFORM pg_notify('carebook_webhook_events', p_provider); -- delivered when this commits
    END IF;
  END IF;
  RETURN QUERY SELECT v_inserted, v_total - v_inserted;
END
$$;
COMMENT ON COLUMN webhook_events.next_attempt_at IS 'When the event may next be claimed: its arrival for new events, after the backoff for failed ones.';
COMMENT ON COLUMN webhook_events.attempts IS 'Times a worker started on it: counted when it settles, or by the next claim when its batch did not commit.';

-- queue_throughput: what each kind settled, by label, in 10-second buckets ------------------------
CREATE TABLE queue_throughput (
  kind text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_.]{0,62}$'),
  label text NOT NULL DEFAULT '',
  bucket timestamptz NOT NULL,
  shard text NOT NULL,
  settled integer NOT NULL DEFAULT 0 CHECK (settled >= 0),
  failed integer NOT NULL DEFAULT 0 CHECK (failed >= 0),
  PRIMARY KEY (kind, label, bucket, shard)
);
ALTER TABLE queue_throughput ENABLE ROW LEVEL SECURITY;
ALTER TABLE queue_throughput FORCE ROW LEVEL SECURITY;
CREATE POLICY service_all ON queue_throughput FOR ALL TO carebook_worker USING (true) WITH CHECK (true);
CREATE POLICY platform_admin_select ON queue_throughput FOR SELECT TO carebook_admin USING (true);
GRANT SELECT, INSERT (kind, label, bucket, shard, settled, failed), UPDATE (settled, failed), DELETE
  ON queue_throughput TO carebook_worker;
GRANT SELECT ON queue_throughput TO carebook_admin;
COMMENT ON TABLE queue_throughput IS 'Items settled (success or ignored) and failed per kind and label (the provider, for webhooks) in 10-second buckets, one row per worker loop (shard) so loops never wait on each other. Kept a day.';

CREATE FUNCTION count_queue_throughput(p_kind text, p_shard text, p_labels text[], p_settled integer[],
                                       p_failed integer[])
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
BEGIN
  INSERT INTO queue_throughput AS t (kind, label, bucket, shard, settled, failed)
  SELECT p_kind, c.label, date_bin('10 seconds', now(), timestamptz '2000-01-01'), p_shard, c.settled, c.failed
    FROM unnest(p_labels, p_settled, p_failed) AS c(label, settled, failed)
  ON CONFLICT (kind, label, bucket, shard)
  DO UPDATE SET settled = t.settled + excluded.settled, failed = t.failed + excluded.failed;
END
$$;
COMMENT ON FUNCTION count_queue_throughput(text, text, text[], integer[], integer[]) IS 'Adds a batch''s settled and failed items to its loop''s current 10-second bucket.';

CREATE FUNCTION purge_queue_throughput()
RETURNS integer
LANGUAGE sql
SET search_path = pg_catalog, public
AS $$
  WITH gone AS (DELETE FROM queue_throughput WHERE bucket < now() - interval '1 day' RETURNING 1)
  SELECT count(*)::integer FROM gone
$$;
COMMENT ON FUNCTION purge_queue_throughput() IS 'Deletes throughput buckets older than a day.';

CREATE FUNCTION recover_webhook_events(p_max_attempts integer, p_base_seconds double precision,
                                       p_cap_seconds double precision)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_items uuid[] := ARRAY(SELECT take_orphaned_queue_batches('webhooks'));
  v_count integer;
BEGIN
  IF cardinality(v_items) = 0 THEN
    RETURN 0;
  END IF;
  -- SKIP LOCKED: an event another worker holds already is its business now (if it crashes too,
  -- its own batch row counts that attempt).
  UPDATE webhook_events e
     SET attempts = e.attempts + 1, last_attempt_at = now(),
         status = CASE WHEN e.attempts + 1 >= p_max_attempts THEN 'dead_letter' ELSE 'failed' END,
         error = 'its batch did not commit: the worker stopped, or its transaction failed, while handling it',
         next_attempt_at = queue_retry_at(e.attempts + 1, p_base_seconds, p_cap_seconds, random())
   WHERE e.id = ANY (ARRAY(
           SELECT c.id FROM webhook_events c
            WHERE c.id = ANY (v_items) AND c.status IN ('pending', 'failed')
              FOR UPDATE SKIP LOCKED));
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END
$$;
COMMENT ON FUNCTION recover_webhook_events(integer, double precision, double precision) IS 'Counts an attempt for each unsettled event of a batch that did not commit, and sends it to be retried on its own (or to dead_letter past p_max_attempts).';

CREATE FUNCTION claim_webhook_events(p_limit integer, p_retry_first boolean, p_max_attempts integer,
                                     p_base_seconds double precision, p_cap_seconds double precision)
RETURNS TABLE (batch bigint, id uuid, webhook_id uuid, provider text, event_type text, event_id text,
               payload jsonb, attempts integer)
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
#variable_conflict use_column
DECLARE
  v_batch bigint := begin_queue_batch();
BEGIN
  PERFORM recover_webhook_events(p_max_attempts, p_base_seconds, p_cap_seconds);
  -- An event that failed before (an error, or a crash) is retried alone: whatever made it fail
  -- cannot take a batch down with it. The caller alternates p_retry_first, so neither starves.
  IF p_retry_first THEN
    RETURN QUERY SELECT v_batch, e.id, e.webhook_id, e.provider, e.event_type, e.event_id, e.payload, e.attempts
      FROM webhook_events e WHERE e.status = 'failed' AND e.next_attempt_at <= now()
     ORDER BY e.next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF FOUND THEN RETURN; END IF;
  END IF;
  RETURN QUERY SELECT v_batch, e.id, e.webhook_id, e.provider, e.event_type, e.event_id, e.payload, e.attempts
    FROM webhook_events e WHERE e.status = 'pending' AND e.next_attempt_at <= now()
   ORDER BY e.next_attempt_at LIMIT p_limit FOR UPDATE SKIP LOCKED;
  IF FOUND OR p_retry_first THEN RETURN; END IF;
  RETURN QUERY SELECT v_batch, e.id, e.webhook_id, e.provider, e.event_type, e.event_id, e.payload, e.attempts
    FROM webhook_events e WHERE e.status = 'failed' AND e.next_attempt_at <= now()
   ORDER BY e.next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED;
END
$$;
COMMENT ON FUNCTION claim_webhook_events(integer, boolean, integer, double precision, double precision) IS 'In the handling transaction: recovers batches that did not commit, then locks up to p_limit new events (or one due for retry) under a new batch id. SKIP LOCKED: workers never wait on each other.';

CREATE FUNCTION settle_webhook_events(
  p_batch bigint, p_worker text, p_shard text, p_done uuid[], p_notes text[], p_failed uuid[], p_errors text[],
  p_permanent boolean[], p_max_attempts integer, p_base_seconds double precision, p_cap_seconds double precision,
  p_jitter double precision
) RETURNS TABLE (id uuid, status text)
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
#variable_conflict use_column
DECLARE
  v_done text[];
  v_failed_ids uuid[];
  v_failed_statuses text[];
  v_failed text[];
BEGIN
  DELETE FROM queue_batches b WHERE b.id = p_batch;
  WITH done AS (
    UPDATE webhook_events e
       SET status = 'success', attempts = e.attempts + 1, last_attempt_at = now(), processed_at = now(),
           processed_by = p_worker, note = n.note, error = NULL
      FROM unnest(p_done, p_notes) AS n(id, note)
     WHERE e.id = n.id
    RETURNING e.provider
  )
  SELECT array_agg(d.provider) INTO v_done FROM done d;
  -- A failure waits out its backoff, or becomes a dead letter past the budget (or when permanent).
  WITH failed AS (
    UPDATE webhook_events e
       SET attempts = e.attempts + 1, last_attempt_at = now(), error = left(f.error, 2000),
           status = CASE WHEN f.permanent OR e.attempts + 1 >= p_max_attempts THEN 'dead_letter' ELSE 'failed' END,
           next_attempt_at = queue_retry_at(e.attempts + 1, p_base_seconds, p_cap_seconds, coalesce(p_jitter, random()))
      FROM unnest(p_failed, p_errors, p_permanent) AS f(id, error, permanent)
     WHERE e.id = f.id
    RETURNING e.id, e.status, e.provider
  )
  SELECT array_agg(f.id), array_agg(f.status), array_agg(f.provider)
    INTO v_failed_ids, v_failed_statuses, v_failed FROM failed f;
  PERFORM count_queue_throughput('webhooks', p_shard, array_agg(x.provider),
                                 array_agg(x.settled), array_agg(x.failed))
     FROM (SELECT c.provider, count(*) FILTER (WHERE c.ok)::integer AS settled,
                  count(*) FILTER (WHERE NOT c.ok)::integer AS failed
             FROM (SELECT unnest(v_done) AS provider, true AS ok
                   UNION ALL SELECT unnest(v_failed), false) AS c
            GROUP BY c.provider) AS x
   HAVING count(*) > 0;
  RETURN QUERY SELECT unnest(v_failed_ids), unnest(v_failed_statuses);
END
$$;
COMMENT ON FUNCTION settle_webhook_events(bigint, text, text, uuid[], text[], uuid[], text[], boolean[], integer, double precision, double precision, double precision) IS 'In the handling transaction, after the handlers: marks the batch''s handled events success (with notes) or failed/dead_letter, counts them in queue_throughput, and removes the batch record. Unhandled events are left as they were.';

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
     SET status = 'pending', attempts = 0, next_attempt_at = now(), error = NULL, replay_count = replay_count + 1
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

-- queue_jobs: the lease state of claim–call–settle work ------------------------------------------
CREATE TABLE queue_jobs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind text NOT NULL,
  ref uuid NOT NULL,
  run_at timestamptz NOT NULL DEFAULT now(),
  attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  locked_by text,
  locked_until timestamptz,
  last_error text,
  dead_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT queue_jobs_kind_ref_key UNIQUE (kind, ref),
  CONSTRAINT queue_jobs_kind_check CHECK (kind ~ '^[a-z][a-z0-9_.]{0,62}$'),
  CONSTRAINT queue_jobs_lease_check CHECK ((locked_by IS NULL) = (locked_until IS NULL)),
  CONSTRAINT queue_jobs_dead_unleased CHECK (dead_at IS NULL OR locked_by IS NULL)
);
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX queue_jobs_due_idx ON queue_jobs (kind, run_at) WHERE dead_at IS NULL AND locked_by IS NULL;
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX queue_jobs_leased_idx ON queue_jobs (kind, run_at) WHERE locked_by IS NOT NULL;
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX queue_jobs_dead_idx ON queue_jobs (kind, dead_at) WHERE dead_at IS NOT NULL;
ALTER TABLE queue_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE queue_jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY service_all ON queue_jobs FOR ALL TO carebook_worker USING (true) WITH CHECK (true);
CREATE POLICY platform_admin_all ON queue_jobs FOR ALL TO carebook_admin USING (true) WITH CHECK (true);
CREATE POLICY readonly_select ON queue_jobs FOR SELECT TO carebook_readonly USING (true);
GRANT SELECT, INSERT (kind, ref, run_at), UPDATE (run_at, attempts, locked_by, locked_until, last_error, dead_at),
      DELETE ON queue_jobs TO carebook_worker;
GRANT SELECT, UPDATE (run_at, attempts, last_error, dead_at) ON queue_jobs TO carebook_admin;
GRANT SELECT ON queue_jobs TO carebook_readonly;
COMMENT ON TABLE queue_jobs IS 'Claim–call–settle work: one narrow row per job of a kind, leased while its provider call runs, deleted when it succeeds. Dead letters stay (dead_at) until replayed. The record it works on (ref) is the kind''s, e.g. an outbox row.';
COMMENT ON COLUMN queue_jobs.ref IS 'The id of the record the job works on, in the kind''s own table.';
COMMENT ON COLUMN queue_jobs.run_at IS 'When the job may next be claimed: now, after a backoff, or the lease end while a worker holds it.';
COMMENT ON COLUMN queue_jobs.attempts IS 'Claims so far: counted when claimed, so a job whose call kills its worker still reaches the dead letters.';
COMMENT ON COLUMN queue_jobs.locked_by IS 'The worker holding the lease; settles are fenced by it and by attempts.';

CREATE TABLE queue_rate_limits (
  kind text PRIMARY KEY CHECK (kind ~ '^[a-z][a-z0-9_.]{0,62}$'),
  granted timestamptz[] NOT NULL DEFAULT '{}'
);
ALTER TABLE queue_rate_limits ENABLE ROW LEVEL SECURITY;
ALTER TABLE queue_rate_limits FORCE ROW LEVEL SECURITY;
CREATE POLICY service_all ON queue_rate_limits FOR ALL TO carebook_worker USING (true) WITH CHECK (true);
CREATE POLICY platform_admin_select ON queue_rate_limits FOR SELECT TO carebook_admin USING (true);
GRANT SELECT, INSERT (kind), UPDATE (granted) ON queue_rate_limits TO carebook_worker;
GRANT SELECT ON queue_rate_limits TO carebook_admin;
COMMENT ON TABLE queue_rate_limits IS 'For each rate-limited kind, when its recent jobs were claimed (the sliding window); claims take the row lock, so every worker shares one limit.';

CREATE FUNCTION claim_queue_jobs(p_kind text, p_worker text, p_limit integer, p_lease_seconds integer,
                                 p_max_attempts integer, p_rate_max integer, p_rate_seconds double precision)
RETURNS TABLE (id bigint, ref uuid, attempts integer, dead boolean, alone boolean)
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
#variable_conflict use_column
DECLARE
  v_limit integer := p_limit;
  v_recent timestamptz[];
  v_ids bigint[];
  v_alone boolean;
BEGIN
  IF p_rate_max IS NOT NULL THEN
    INSERT INTO queue_rate_limits (kind) VALUES (p_kind) ON CONFLICT (kind) DO NOTHING;
    SELECT ARRAY(SELECT g FROM unnest(r.granted) AS g WHERE g > clock_timestamp() - make_interval(secs => p_rate_seconds))
      INTO v_recent FROM queue_rate_limits r WHERE r.kind = p_kind FOR UPDATE;
    v_limit := least(p_limit, p_rate_max - cardinality(v_recent));
    IF v_limit <= 0 THEN RETURN; END IF;
  END IF;
  -- A job whose lease ran out (its worker died or hung during the call) is taken alone: whatever
  -- stopped that worker cannot take a batch down with it again.
  v_ids := ARRAY(SELECT j.id FROM queue_jobs j
                  WHERE j.kind = p_kind AND j.locked_by IS NOT NULL AND j.run_at <= now()
                  ORDER BY j.run_at LIMIT 1 FOR UPDATE SKIP LOCKED);
  -- The caller makes no other call of this kind while it runs one claimed alone.
  v_alone := cardinality(v_ids) > 0;
  IF NOT v_alone THEN
    v_ids := ARRAY(SELECT j.id FROM queue_jobs j
                    WHERE j.kind = p_kind AND j.dead_at IS NULL AND j.locked_by IS NULL AND j.run_at <= now()
                    ORDER BY j.run_at LIMIT v_limit FOR UPDATE SKIP LOCKED);
  END IF;
  IF cardinality(v_ids) = 0 THEN RETURN; END IF;
  IF p_rate_max IS NOT NULL THEN
    UPDATE queue_rate_limits r SET granted = v_recent || array_fill(clock_timestamp(), ARRAY[cardinality(v_ids)])
     WHERE r.kind = p_kind;
  END IF;
  -- Every claim counts an attempt. A leased job whose attempts are used up killed (or hung) every
  -- worker that took it: it is buried instead of handed out again.
  RETURN QUERY
    UPDATE queue_jobs j
       SET attempts = CASE WHEN b.buried THEN j.attempts ELSE j.attempts + 1 END,
           locked_by = CASE WHEN b.buried THEN NULL ELSE p_worker END,
           locked_until = CASE WHEN b.buried THEN NULL ELSE now() + make_interval(secs => p_lease_seconds) END,
           run_at = CASE WHEN b.buried THEN j.run_at ELSE now() + make_interval(secs => p_lease_seconds) END,
           dead_at = CASE WHEN b.buried THEN now() END,
           last_error = CASE WHEN b.buried
                             THEN 'its lease ran out on each of its ' || j.attempts || ' attempts'
                             ELSE j.last_error END
      FROM (SELECT c.id, (c.locked_by IS NOT NULL AND c.attempts >= p_max_attempts) AS buried
              FROM queue_jobs c WHERE c.id = ANY (v_ids)) AS b
     WHERE j.id = b.id
    RETURNING j.id, j.ref, j.attempts, b.buried, v_alone;
END
$$;
COMMENT ON FUNCTION claim_queue_jobs(text, text, integer, integer, integer, integer, double precision) IS 'Leases up to p_limit due jobs of p_kind to p_worker (fewer when the kind''s rate window is full; one alone when its lease ran out before), counting the attempt; buries jobs whose every lease ran out. SKIP LOCKED: workers never wait on each other.';

CREATE FUNCTION complete_queue_jobs(p_worker text, p_ids bigint[], p_attempts integer[])
RETURNS TABLE (id bigint, ref uuid)
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
    DELETE FROM queue_jobs j
     USING unnest(p_ids, p_attempts) AS s(id, attempts)
     WHERE j.id = s.id AND j.locked_by = p_worker AND j.attempts = s.attempts
    RETURNING j.id, j.ref;
END
$$;
COMMENT ON FUNCTION complete_queue_jobs(text, bigint[], integer[]) IS 'Removes succeeded jobs that p_worker still holds at the attempt it claimed them (the fence); returns those it removed. A job re-claimed after its lease ran out is not touched.';

CREATE FUNCTION fail_queue_jobs(
  p_worker text, p_ids bigint[], p_attempts integer[], p_errors text[], p_permanent boolean[],
  p_retry_after double precision[], p_max_attempts integer, p_base_seconds double precision,
  p_cap_seconds double precision, p_jitter double precision
) RETURNS TABLE (id bigint, ref uuid, status text)
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
    UPDATE queue_jobs j
       SET locked_by = NULL, locked_until = NULL, last_error = left(f.error, 2000),
           dead_at = CASE WHEN f.permanent OR j.attempts >= p_max_attempts THEN now() END,
           run_at = CASE WHEN f.retry_after IS NOT NULL THEN now() + make_interval(secs => f.retry_after)
                         ELSE queue_retry_at(j.attempts, p_base_seconds, p_cap_seconds, coalesce(p_jitter, random())) END
      FROM unnest(p_ids, p_attempts, p_errors, p_permanent, p_retry_after) AS f(id, attempts, error, permanent, retry_after)
     WHERE j.id = f.id AND j.locked_by = p_worker AND j.attempts = f.attempts
    RETURNING j.id, j.ref, CASE WHEN j.dead_at IS NULL THEN 'failed' ELSE 'dead_letter' END;
END
$$;
COMMENT ON FUNCTION fail_queue_jobs(text, bigint[], integer[], text[], boolean[], double precision[], integer, double precision, double precision, double precision) IS 'Settles failed calls of jobs p_worker still holds (fenced as complete_queue_jobs): retried after the backoff (or the provider''s Retry-After), or dead past p_max_attempts or when permanent.';

CREATE FUNCTION release_queue_jobs(p_worker text, p_ids bigint[], p_attempts integer[])
RETURNS integer
LANGUAGE sql
SET search_path = pg_catalog, public
AS $$
  WITH released AS (
    UPDATE queue_jobs j
       SET locked_by = NULL, locked_until = NULL, run_at = now(), attempts = greatest(j.attempts - 1, 0)
      FROM unnest(p_ids, p_attempts) AS s(id, attempts)
     WHERE j.id = s.id AND j.locked_by = p_worker AND j.attempts = s.attempts
    RETURNING 1
  )
  SELECT count(*)::integer FROM released
$$;
COMMENT ON FUNCTION release_queue_jobs(text, bigint[], integer[]) IS 'Gives back claimed jobs whose call never started (a worker stopping): due at once, the claim''s attempt taken back.';

CREATE FUNCTION enqueue_queue_job(p_kind text, p_ref uuid, p_run_at timestamptz DEFAULT now(),
                                  p_notify boolean DEFAULT true)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_id bigint;
BEGIN
  INSERT INTO queue_jobs (kind, ref, run_at) VALUES (p_kind, p_ref, p_run_at)
  ON CONFLICT (kind, ref) DO NOTHING
  RETURNING id INTO v_id;
  IF v_id IS NOT NULL AND p_notify AND p_run_at <= now() THEN
    PERFORM pg_notify('carebook_queue', p_kind); -- delivered when this commits
  END IF;
  RETURN v_id;
END
$$;
COMMENT ON FUNCTION enqueue_queue_job(text, uuid, timestamptz, boolean) IS 'Adds a job for the record p_ref once (a second call for the same kind and record does nothing); wakes the workers when it is due now.';

CREATE FUNCTION replay_queue_jobs(p_kind text, p_refs uuid[], p_reason text)
RETURNS SETOF uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_refs uuid[];
BEGIN
  IF p_reason IS NULL OR length(btrim(p_reason)) < 3 THEN
    RAISE EXCEPTION 'a replay needs a reason' USING errcode = '22023';
  END IF;
  WITH replayed AS (
    UPDATE queue_jobs j SET dead_at = NULL, attempts = 0, run_at = now(), last_error = NULL
     WHERE j.kind = p_kind AND j.ref = ANY (p_refs) AND j.dead_at IS NOT NULL
    RETURNING j.ref
  )
  SELECT coalesce(array_agg(ref), '{}') INTO v_refs FROM replayed;
  PERFORM audit.record('queue.replay', NULL, 'queue_jobs', NULL,
    jsonb_build_object('kind', p_kind, 'requested', coalesce(array_length(p_refs, 1), 0),
                       'replayed', cardinality(v_refs), 'refs', to_jsonb(v_refs[1:100])), p_reason);
  IF cardinality(v_refs) > 0 THEN
    PERFORM pg_notify('carebook_queue', p_kind);
  END IF;
  RETURN QUERY SELECT unnest(v_refs);
END
$$;
COMMENT ON FUNCTION replay_queue_jobs(text, uuid[], text) IS 'Gives dead jobs of p_kind (by record) a fresh attempt budget, due now; audited with actor and reason. Returns the records replayed.';

-- What every kind has waiting: the gauges, /admin and `carebook status` ---------------------------
CREATE FUNCTION queue_stats()
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

-- Grants: the one-statement calls (queryInContext) are executable by PUBLIC, as in 00016 ---------
REVOKE EXECUTE ON FUNCTION queue_retry_at(integer, double precision, double precision, double precision),
  record_queue_batch(bigint, text, uuid[]), queue_batch_lock(bigint, boolean), queue_batch_live(bigint),
  begin_queue_batch(), take_orphaned_queue_batches(text), recover_webhook_events(integer, double precision, double precision),
  claim_webhook_events(integer, boolean, integer, double precision, double precision),
  settle_webhook_events(bigint, text, text, uuid[], text[], uuid[], text[], boolean[], integer, double precision, double precision, double precision),
  replay_webhook_events(uuid[], text, jsonb),
  claim_queue_jobs(text, text, integer, integer, integer, integer, double precision),
  complete_queue_jobs(text, bigint[], integer[]),
  fail_queue_jobs(text, bigint[], integer[], text[], boolean[], double precision[], integer, double precision, double precision, double precision),
  release_queue_jobs(text, bigint[], integer[]), enqueue_queue_job(text, uuid, timestamptz, boolean),
  replay_queue_jobs(text, uuid[], text), queue_stats(), count_queue_throughput(text, text, text[], integer[], integer[]),
  purge_queue_throughput() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION queue_retry_at(integer, double precision, double precision, double precision),
  queue_batch_lock(bigint, boolean), begin_queue_batch(), take_orphaned_queue_batches(text), recover_webhook_events(integer, double precision, double precision),
  claim_webhook_events(integer, boolean, integer, double precision, double precision),
  settle_webhook_events(bigint, text, text, uuid[], text[], uuid[], text[], boolean[], integer, double precision, double precision, double precision),
  claim_queue_jobs(text, text, integer, integer, integer, integer, double precision),
  complete_queue_jobs(text, bigint[], integer[]),
  fail_queue_jobs(text, bigint[], integer[], text[], boolean[], double precision[], integer, double precision, double precision, double precision),
  enqueue_queue_job(text, uuid, timestamptz, boolean), count_queue_throughput(text, text, text[], integer[], integer[])
  TO carebook_worker;
GRANT EXECUTE ON FUNCTION replay_webhook_events(uuid[], text, jsonb), replay_queue_jobs(text, uuid[], text) TO carebook_admin;
GRANT EXECUTE ON FUNCTION record_queue_batch(bigint, text, uuid[]), release_queue_jobs(text, bigint[], integer[]),
  queue_batch_live(bigint), queue_stats(), purge_queue_throughput() TO PUBLIC;

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '120s';
DROP FUNCTION IF EXISTS queue_stats();
DROP FUNCTION IF EXISTS replay_queue_jobs(text, uuid[], text);
DROP FUNCTION IF EXISTS enqueue_queue_job(text, uuid, timestamptz, boolean);
DROP FUNCTION IF EXISTS release_queue_jobs(text, bigint[], integer[]);
DROP FUNCTION IF EXISTS fail_queue_jobs(text, bigint[], integer[], text[], boolean[], double precision[], integer, double precision, double precision, double precision);
DROP FUNCTION IF EXISTS complete_queue_jobs(text, bigint[], integer[]);
DROP FUNCTION IF EXISTS claim_queue_jobs(text, text, integer, integer, integer, integer, double precision);
DROP TABLE IF EXISTS queue_rate_limits;
DROP TABLE IF EXISTS queue_jobs;
DROP FUNCTION IF EXISTS replay_webhook_events(uuid[], text, jsonb);
DROP FUNCTION IF EXISTS settle_webhook_events(bigint, text, text, uuid[], text[], uuid[], text[], boolean[], integer, double precision, double precision, double precision);
DROP FUNCTION IF EXISTS claim_webhook_events(integer, boolean, integer, double precision, double precision);
DROP FUNCTION IF EXISTS recover_webhook_events(integer, double precision, double precision);
DROP FUNCTION IF EXISTS purge_queue_throughput();
DROP FUNCTION IF EXISTS count_queue_throughput(text, text, text[], integer[], integer[]);
DROP TABLE IF EXISTS queue_throughput;
DROP FUNCTION IF EXISTS take_orphaned_queue_batches(text);
DROP FUNCTION IF EXISTS begin_queue_batch();
DROP FUNCTION IF EXISTS queue_batch_live(bigint);
DROP FUNCTION IF EXISTS queue_batch_lock(bigint, boolean);
DROP FUNCTION IF EXISTS record_queue_batch(bigint, text, uuid[]);
DROP TABLE IF EXISTS queue_batches;
DROP FUNCTION IF EXISTS queue_retry_at(integer, double precision, double precision, double precision);

-- webhook_events gets its lease back; events keep their status (none is processing).
COMMENT ON COLUMN webhook_events.locked_by IS 'The worker holding the lease while processing.';
COMMENT ON COLUMN webhook_events.locked_until IS NULL;
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
ALTER TABLE webhook_events ALTER CONSTRAINT webhook_events_request_id_fkey NOT DEFERRABLE;
COMMENT ON COLUMN webhook_events.next_attempt_at IS 'When the event may next be claimed: now for new events, after the backoff for failed ones, the lease end while processing.';
COMMENT ON COLUMN webhook_events.attempts IS NULL;
ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_status_check;
ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_status_check
  CHECK (status IN ('pending', 'processing', 'success', 'failed', 'dead_letter')) NOT VALID;
ALTER TABLE webhook_events VALIDATE CONSTRAINT webhook_events_status_check;
ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_lease_when_processing
  CHECK ((status = 'processing') = (locked_by IS NOT NULL AND locked_until IS NOT NULL)) NOT VALID;
ALTER TABLE webhook_events VALIDATE CONSTRAINT webhook_events_lease_when_processing;

CREATE FUNCTION claim_webhook_events(p_worker text, p_limit integer, p_lease_seconds integer)
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

CREATE FUNCTION fail_webhook_event(p_id uuid, p_worker text, p_error text, p_max_attempts integer,
                                   p_permanent boolean DEFAULT false, p_base_seconds double precision DEFAULT 5,
                                   p_cap_seconds double precision DEFAULT 3600,
                                   p_jitter double precision DEFAULT random())
RETURNS text
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

CREATE FUNCTION release_webhook_events(p_worker text, p_ids uuid[])
RETURNS integer
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

REVOKE EXECUTE ON FUNCTION complete_webhook_events(text, uuid[], text[]),
  fail_webhook_event(uuid, text, text, integer, boolean, double precision, double precision, double precision),
  replay_webhook_events(uuid[], text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION claim_webhook_events(text, integer, integer), complete_webhook_events(text, uuid[], text[]),
  fail_webhook_event(uuid, text, text, integer, boolean, double precision, double precision, double precision),
  release_webhook_events(text, uuid[]), webhook_queue_stats() TO carebook_worker;
GRANT EXECUTE ON FUNCTION replay_webhook_events(uuid[], text, jsonb), webhook_queue_stats() TO carebook_admin;
GRANT EXECUTE ON FUNCTION claim_webhook_events(text, integer, integer), release_webhook_events(text, uuid[]),
  webhook_queue_stats() TO PUBLIC;
