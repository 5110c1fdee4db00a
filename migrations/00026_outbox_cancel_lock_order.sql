-- 00026 — cancel_outbox takes locks in the order a worker's claim does: queue job, then outbox row.
--   The claim of a claim–call–settle worker locks its queue_jobs rows and then marks their outbox
--   rows in flight (outbox_deliveries). cancel_outbox (run by the appointment triggers: a hold
--   expiring, a cancel, a reschedule) locked the outbox rows first and then deleted their jobs, so
--   a claim in progress for the same appointment deadlocked with it (40P01; the fault property
--   test hit it: expire_unpaid_holds against a worker claiming the PaymentIntent's create).
--   Now the jobs are locked first, SKIP LOCKED: a job a worker is claiming at that moment is left
--   to it, exactly as one it already holds (its delivery re-checks the appointment, and a payment
--   whose create could not be cancelled gets its PaymentIntent cancelled afterwards, as before).

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE OR REPLACE FUNCTION cancel_outbox(p_appointment_id uuid, p_kinds text[], p_purposes text[], p_note text)
RETURNS integer
LANGUAGE sql
SET search_path = pg_catalog, public
AS $$
  -- Only rows no worker holds or is claiming: one in flight finishes, and its own checks see the
  -- new state. Locks as a claim takes them (the job, then the outbox row), so neither waits on the other.
  WITH candidates AS (
    SELECT o.id, 'outbox.' || o.kind AS job_kind FROM outbox o
     WHERE o.appointment_id = p_appointment_id AND o.status = 'pending' AND o.kind = ANY (p_kinds)
       AND (p_purposes IS NULL OR o.purpose = ANY (p_purposes))
  ), free_jobs AS MATERIALIZED (
    SELECT j.ref FROM queue_jobs j JOIN candidates c ON j.kind = c.job_kind AND j.ref = c.id
     WHERE j.locked_by IS NULL
       FOR UPDATE OF j SKIP LOCKED
  ), waiting AS (
    SELECT o.id FROM outbox o JOIN candidates c ON c.id = o.id
     WHERE o.id IN (SELECT ref FROM free_jobs)
        OR NOT EXISTS (SELECT 1 FROM queue_jobs j WHERE j.kind = c.job_kind AND j.ref = o.id)
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
COMMENT ON FUNCTION cancel_outbox(uuid, text[], text[], text) IS 'Cancels an appointment''s pending effects of the given kinds (and purposes) that no worker holds or is claiming, with their queue jobs (locked job first, as a claim locks them).';

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE OR REPLACE FUNCTION cancel_outbox(p_appointment_id uuid, p_kinds text[], p_purposes text[], p_note text)
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
