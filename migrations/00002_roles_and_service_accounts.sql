-- 00002 — the group roles every connection switches to (SET LOCAL ROLE) before doing work.
--   carebook_app       API requests; row-level security scopes every row to the caller's clinic
--   carebook_worker    webhook ingestion and the background worker (service account, all clinics)
--   carebook_readonly  reporting; may read what its clinic settings allow, never write
--   carebook_admin     platform administrators: replay, audit reads, clinic management
-- Roles are cluster-wide while migrations are per database, so this file only creates what is
-- missing and tolerates another database of the same cluster creating them at the same moment.
-- The login that runs the service must be a member of these roles (a superuser already is in
-- effect); see docs/migrations/README.md, "Roles in production".

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
DO $$
DECLARE
  v_role text;
  v_comment text;
  v_roles constant text[][] := ARRAY[
    ['carebook_app', 'Carebook API requests; RLS scopes rows to carebook.clinic_id'],
    ['carebook_worker', 'Carebook service account: webhook ingestion and workers, all clinics'],
    ['carebook_readonly', 'Carebook reporting: read-only, scoped like carebook_app'],
    ['carebook_admin', 'Carebook platform administrators: replay, audit, clinic management']
  ];
BEGIN
  FOR i IN 1 .. array_length(v_roles, 1) LOOP
    v_role := v_roles[i][1];
    v_comment := v_roles[i][2];
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = v_role) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I NOLOGIN', v_role);
        EXECUTE format('COMMENT ON ROLE %I IS %L', v_role, v_comment);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL; -- created concurrently by a migration of another database in this cluster
      END;
    END IF;
    -- A non-superuser migrator must be able to SET ROLE to each of them (superusers can anyway).
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = session_user)
       AND NOT pg_has_role(session_user, v_role, 'MEMBER') THEN
      EXECUTE format('GRANT %I TO %I', v_role, session_user);
    END IF;
  END LOOP;
END
$$;

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
-- Drop a role only when no database of the cluster still references it (pg_shdepend is shared),
-- so taking one database down to zero never breaks another database on the same server.
DO $$
DECLARE
  v_role text;
BEGIN
  FOREACH v_role IN ARRAY ARRAY['carebook_app', 'carebook_worker', 'carebook_readonly', 'carebook_admin'] LOOP
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = v_role)
       AND NOT EXISTS (
         SELECT 1 FROM pg_shdepend d JOIN pg_roles r ON r.oid = d.refobjid
         WHERE r.rolname = v_role AND d.refclassid = 'pg_authid'::regclass
       ) THEN
      BEGIN
        EXECUTE format('DROP ROLE %I', v_role);
      EXCEPTION WHEN dependent_objects_still_exist OR undefined_object THEN
        RAISE NOTICE 'role % kept: still in use elsewhere in this cluster', v_role;
      END;
    END IF;
  END LOOP;
END
$$;
