-- 00007 — the audit trail, written by the database itself.
-- Row triggers record every insert, update and delete of the tables that matter; procedures and
-- admin actions (replay) add domain rows through audit.record(). Both are SECURITY DEFINER so
-- that no application role can write audit.audit_log directly (it has no grant), only append
-- through these functions. Columns holding personal or health data are named as trigger
-- arguments: their values are left out of the trail, only the fact that they changed is kept.

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE SCHEMA audit;
COMMENT ON SCHEMA audit IS 'Append-only audit trail.';

CREATE TABLE audit.audit_log (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  occurred_at timestamptz NOT NULL DEFAULT now(),
  clinic_id uuid,
  actor text NOT NULL,
  actor_role text,
  action text NOT NULL CHECK (length(action) BETWEEN 1 AND 100),
  table_name text,
  row_id uuid,
  old_values jsonb,
  new_values jsonb,
  changed_columns text[],
  reason text CHECK (length(reason) <= 1000),
  details jsonb,
  txid bigint NOT NULL DEFAULT txid_current()
);
COMMENT ON TABLE audit.audit_log IS 'Append-only trail of state changes (row triggers) and admin actions (audit.record).';
COMMENT ON COLUMN audit.audit_log.actor IS 'carebook.actor, else carebook.user_id (JWT sub), else the database session user.';
COMMENT ON COLUMN audit.audit_log.action IS 'insert | update | delete for row changes; a dotted name (webhook.replay, appointment.book) for domain actions.';
COMMENT ON COLUMN audit.audit_log.old_values IS 'Row before the change, without the private columns its trigger names (changed_columns still lists them).';
COMMENT ON COLUMN audit.audit_log.txid IS 'Transaction id: rows written by one transaction share it.';

CREATE FUNCTION audit.current_actor() RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog
AS $$
  SELECT coalesce(
    nullif(current_setting('carebook.actor', true), ''),
    nullif(current_setting('carebook.user_id', true), ''),
    session_user::text
  )
$$;
COMMENT ON FUNCTION audit.current_actor() IS 'Who is acting: the explicit actor (CLI), the JWT subject (API), or the database login.';

CREATE FUNCTION audit.tg_audit__row_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_old jsonb := CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD) END;
  v_new jsonb := CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN to_jsonb(NEW) END;
  v_changed text[];
  v_private text[] := coalesce(TG_ARGV, '{}'::text[]);
BEGIN
  IF TG_OP = 'UPDATE' THEN
    SELECT array_agg(n.key ORDER BY n.key) INTO v_changed
    FROM jsonb_each(v_new) n
    WHERE n.key <> 'updated_at' AND n.value IS DISTINCT FROM v_old -> n.key;
    IF v_changed IS NULL THEN
      RETURN NULL; -- nothing but updated_at changed
    END IF;
  END IF;
  INSERT INTO audit.audit_log
    (clinic_id, actor, actor_role, action, table_name, row_id, old_values, new_values, changed_columns)
  VALUES (
    (coalesce(v_new, v_old) ->> 'clinic_id')::uuid,
    audit.current_actor(),
    nullif(current_setting('carebook.role', true), ''),
    lower(TG_OP),
    TG_TABLE_NAME,
    (coalesce(v_new, v_old) ->> 'id')::uuid,
    v_old - v_private,
    v_new - v_private,
    v_changed
  );
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION audit.tg_audit__row_change() IS 'Trigger: one audit row per changed row. Arguments name private columns whose values are left out.';
REVOKE EXECUTE ON FUNCTION audit.tg_audit__row_change() FROM PUBLIC;

CREATE FUNCTION audit.record(
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
COMMENT ON FUNCTION audit.record(text, uuid, text, uuid, jsonb, text) IS 'Appends a domain audit row (e.g. webhook.replay) attributed to the current actor.';
REVOKE EXECUTE ON FUNCTION audit.record(text, uuid, text, uuid, jsonb, text) FROM PUBLIC;

CREATE TRIGGER _900_audit AFTER INSERT OR UPDATE OR DELETE ON clinics
  FOR EACH ROW EXECUTE FUNCTION audit.tg_audit__row_change();
CREATE TRIGGER _900_audit AFTER INSERT OR UPDATE OR DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION audit.tg_audit__row_change('full_name', 'email', 'phone');
CREATE TRIGGER _900_audit AFTER INSERT OR UPDATE OR DELETE ON patients
  FOR EACH ROW EXECUTE FUNCTION audit.tg_audit__row_change('full_name', 'email', 'phone', 'date_of_birth');
CREATE TRIGGER _900_audit AFTER INSERT OR UPDATE OR DELETE ON appointment_slots
  FOR EACH ROW EXECUTE FUNCTION audit.tg_audit__row_change();
CREATE TRIGGER _900_audit AFTER INSERT OR UPDATE OR DELETE ON appointments
  FOR EACH ROW EXECUTE FUNCTION audit.tg_audit__row_change('notes', 'cancellation_reason');
CREATE TRIGGER _900_audit AFTER INSERT OR UPDATE OR DELETE ON payments
  FOR EACH ROW EXECUTE FUNCTION audit.tg_audit__row_change();
CREATE TRIGGER _900_audit AFTER INSERT OR UPDATE OR DELETE ON integrations
  FOR EACH ROW EXECUTE FUNCTION audit.tg_audit__row_change();

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
DROP TRIGGER IF EXISTS _900_audit ON integrations;
DROP TRIGGER IF EXISTS _900_audit ON payments;
DROP TRIGGER IF EXISTS _900_audit ON appointments;
DROP TRIGGER IF EXISTS _900_audit ON appointment_slots;
DROP TRIGGER IF EXISTS _900_audit ON patients;
DROP TRIGGER IF EXISTS _900_audit ON users;
DROP TRIGGER IF EXISTS _900_audit ON clinics;
DROP SCHEMA IF EXISTS audit CASCADE;
