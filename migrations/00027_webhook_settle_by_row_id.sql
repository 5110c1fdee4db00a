-- 00027 — a webhook batch settles its events by the row ids its claim read (ctid), not by index.
--   The settle looked up each handled event through the primary key (four buffer reads and about
--   3 µs of PostgreSQL CPU an event, half of the time of the settle's UPDATE before its writes).
--   The claim now returns each event's row id (`row_tid`), and the settle finds the row with a
--   TID scan, checking that its id still matches. A row the batch's transaction has locked cannot
--   move under it; one that a statement of that same transaction updated has moved, and is found
--   by id instead (a second, rarely run UPDATE), so no handled event is left unsettled.
--   settle_webhook_events gains p_done_tids (last, DEFAULT NULL): a worker that does not pass
--   them (one of the previous release during a rolling deploy) settles by id, as before.

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DROP FUNCTION claim_webhook_events(integer, boolean, integer, double precision, double precision);
CREATE FUNCTION claim_webhook_events(p_limit integer, p_retry_first boolean, p_max_attempts integer,
                                     p_base_seconds double precision, p_cap_seconds double precision)
RETURNS TABLE (batch bigint, id uuid, webhook_id uuid, provider text, event_type text, event_id text,
               payload jsonb, attempts integer, row_tid tid)
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
    RETURN QUERY SELECT v_batch, e.id, e.webhook_id, e.provider, e.event_type, e.event_id, e.payload, e.attempts, e.ctid
      FROM webhook_events e WHERE e.status = 'failed' AND e.next_attempt_at <= now()
     ORDER BY e.next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF FOUND THEN RETURN; END IF;
  END IF;
  RETURN QUERY SELECT v_batch, e.id, e.webhook_id, e.provider, e.event_type, e.event_id, e.payload, e.attempts, e.ctid
    FROM webhook_events e WHERE e.status = 'pending' AND e.next_attempt_at <= now()
   ORDER BY e.next_attempt_at LIMIT p_limit FOR UPDATE SKIP LOCKED;
  IF FOUND OR p_retry_first THEN RETURN; END IF;
  RETURN QUERY SELECT v_batch, e.id, e.webhook_id, e.provider, e.event_type, e.event_id, e.payload, e.attempts, e.ctid
    FROM webhook_events e WHERE e.status = 'failed' AND e.next_attempt_at <= now()
   ORDER BY e.next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED;
END
$$;
COMMENT ON FUNCTION claim_webhook_events(integer, boolean, integer, double precision, double precision) IS 'In the handling transaction: recovers batches that did not commit, then locks up to p_limit new events (or one due for retry) under a new batch id, with the row id (ctid) the settle finds each by. SKIP LOCKED: workers never wait on each other.';

DROP FUNCTION settle_webhook_events(bigint, text, text, uuid[], text[], uuid[], text[], boolean[], integer,
                                    double precision, double precision, double precision);
CREATE FUNCTION settle_webhook_events(
  p_batch bigint, p_worker text, p_shard text, p_done uuid[], p_notes text[], p_failed uuid[], p_errors text[],
  p_permanent boolean[], p_max_attempts integer, p_base_seconds double precision, p_cap_seconds double precision,
  p_jitter double precision, p_done_tids tid[] DEFAULT NULL
) RETURNS TABLE (id uuid, status text)
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
#variable_conflict use_column
DECLARE
  v_done text[];
  v_moved text[];
  v_failed_ids uuid[];
  v_failed_statuses text[];
  v_failed text[];
BEGIN
  DELETE FROM queue_batches b WHERE b.id = p_batch;
  -- By row id (a TID scan), checked against the event's id; a row this transaction moved, or a
  -- caller without row ids, does not match and is settled by id below.
  WITH done AS (
    UPDATE webhook_events e
       SET status = 'success', attempts = e.attempts + 1, last_attempt_at = now(), processed_at = now(),
           processed_by = p_worker, note = n.note, error = NULL
      FROM unnest(p_done, p_notes, p_done_tids) AS n(id, note, tid)
     WHERE e.ctid = n.tid AND e.id = n.id
    RETURNING e.provider
  )
  SELECT array_agg(d.provider) INTO v_done FROM done d;
  IF coalesce(cardinality(v_done), 0) < cardinality(p_done) THEN
    WITH done AS (
      UPDATE webhook_events e
         SET status = 'success', attempts = e.attempts + 1, last_attempt_at = now(), processed_at = now(),
             processed_by = p_worker, note = n.note, error = NULL
        FROM unnest(p_done, p_notes) AS n(id, note)
       WHERE e.id = n.id AND e.status <> 'success'
      RETURNING e.provider
    )
    SELECT array_agg(d.provider) INTO v_moved FROM done d;
    v_done := coalesce(v_done, '{}') || coalesce(v_moved, '{}');
  END IF;
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
COMMENT ON FUNCTION settle_webhook_events(bigint, text, text, uuid[], text[], uuid[], text[], boolean[], integer, double precision, double precision, double precision, tid[]) IS 'In the handling transaction, after the handlers: marks the batch''s handled events success (with notes; found by the claim''s row ids, by id when a row moved) or failed/dead_letter, counts them in queue_throughput, and removes the batch record. Unhandled events are left as they were.';

-- Grants as 00020's: the worker role only.
REVOKE EXECUTE ON FUNCTION claim_webhook_events(integer, boolean, integer, double precision, double precision),
  settle_webhook_events(bigint, text, text, uuid[], text[], uuid[], text[], boolean[], integer, double precision,
                        double precision, double precision, tid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION claim_webhook_events(integer, boolean, integer, double precision, double precision),
  settle_webhook_events(bigint, text, text, uuid[], text[], uuid[], text[], boolean[], integer, double precision,
                        double precision, double precision, tid[]) TO carebook_worker;

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
DROP FUNCTION claim_webhook_events(integer, boolean, integer, double precision, double precision);
DROP FUNCTION settle_webhook_events(bigint, text, text, uuid[], text[], uuid[], text[], boolean[], integer,
                                    double precision, double precision, double precision, tid[]);
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
REVOKE EXECUTE ON FUNCTION claim_webhook_events(integer, boolean, integer, double precision, double precision),
  settle_webhook_events(bigint, text, text, uuid[], text[], uuid[], text[], boolean[], integer, double precision,
                        double precision, double precision) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION claim_webhook_events(integer, boolean, integer, double precision, double precision),
  settle_webhook_events(bigint, text, text, uuid[], text[], uuid[], text[], boolean[], integer, double precision,
                        double precision, double precision) TO carebook_worker;
