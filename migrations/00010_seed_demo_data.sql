-- 00010 — demo data: two clinics, their practitioners, staff and patients, and weeks of slots.
-- Loaded only when the migrating session asks for it with the setting carebook.seed_demo = 'on'
-- (`carebook dev` / `npm start` on the embedded database do; `carebook migrate up --demo-data`
-- can). A production database never gets it by accident: the migration is recorded as applied
-- either way, and seed_demo_data() stays available to the owner for rolling the slots forward.
-- Ids are fixed so that the demo tokens printed by `npm start` stay valid across restarts.

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE FUNCTION seed_demo_data(p_days integer DEFAULT 28) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_slots integer;
BEGIN
  IF p_days NOT BETWEEN 1 AND 366 THEN
    RAISE EXCEPTION 'p_days must be between 1 and 366, got %', p_days USING errcode = '22023';
  END IF;

  INSERT INTO clinics (id, name, slug, timezone) VALUES
    ('11111111-1111-4111-8111-111111111111', 'Harbor Family Clinic', 'harbor-family', 'America/New_York'),
    ('22222222-2222-4222-8222-222222222222', 'Northside Telehealth', 'northside-telehealth', 'Europe/Berlin')
  ON CONFLICT (id) DO NOTHING;

  INSERT INTO users (id, clinic_id, role, full_name, email, phone) VALUES
    ('a1000000-0000-4000-8000-000000000001', '11111111-1111-4111-8111-111111111111', 'practitioner', 'Dr. Ada Lovelace', 'ada@harbor.example', '+15550100001'),
    ('a1000000-0000-4000-8000-000000000002', '11111111-1111-4111-8111-111111111111', 'practitioner', 'Dr. Ben Carter', 'ben@harbor.example', '+15550100002'),
    ('a1000000-0000-4000-8000-000000000003', '11111111-1111-4111-8111-111111111111', 'clinic_admin', 'Hana Front-Desk', 'desk@harbor.example', NULL),
    ('b2000000-0000-4000-8000-000000000001', '22222222-2222-4222-8222-222222222222', 'practitioner', 'Dr. Clara Schmidt', 'clara@northside.example', '+4930555000001'),
    ('b2000000-0000-4000-8000-000000000002', '22222222-2222-4222-8222-222222222222', 'clinic_admin', 'Nils Admin', 'admin@northside.example', NULL)
  ON CONFLICT (id) DO NOTHING;

  INSERT INTO patients (id, clinic_id, full_name, email, phone, date_of_birth) VALUES
    ('a3000000-0000-4000-8000-000000000001', '11111111-1111-4111-8111-111111111111', 'Pat Demo', 'pat@patients.example', '+15550199001', '1985-04-12'),
    ('a3000000-0000-4000-8000-000000000002', '11111111-1111-4111-8111-111111111111', 'Sam Demo', 'sam@patients.example', '+15550199002', '1990-09-30'),
    ('a3000000-0000-4000-8000-000000000003', '11111111-1111-4111-8111-111111111111', 'Lee Demo', NULL, '+15550199003', NULL),
    ('b3000000-0000-4000-8000-000000000001', '22222222-2222-4222-8222-222222222222', 'Mia Demo', 'mia@patients.example', '+4915550199001', '1978-01-02'),
    ('b3000000-0000-4000-8000-000000000002', '22222222-2222-4222-8222-222222222222', 'Tom Demo', NULL, '+4915550199002', NULL)
  ON CONFLICT (id) DO NOTHING;

  -- Weekday mornings, 09:00–12:00 clinic time, 30-minute slots, from today on. Local dates are
  -- iterated and converted with AT TIME ZONE, so daylight-saving changes keep 09:00 at 09:00.
  WITH practitioner_plans (practitioner_id, visit_type, price_cents, currency) AS (
    VALUES
      ('a1000000-0000-4000-8000-000000000001'::uuid, 'in_person', 5000, 'USD'),
      ('a1000000-0000-4000-8000-000000000002'::uuid, 'in_person', NULL, NULL),
      ('b2000000-0000-4000-8000-000000000001'::uuid, 'video', 4000, 'EUR')
  ), candidate AS (
    SELECT u.clinic_id, p.practitioner_id, p.visit_type, p.price_cents, p.currency,
           ((d.local_day + time '09:00' + n.i * interval '30 minutes') AT TIME ZONE c.timezone) AS starts_at
    FROM practitioner_plans p
    JOIN users u ON u.id = p.practitioner_id
    JOIN clinics c ON c.id = u.clinic_id
    CROSS JOIN LATERAL (
      SELECT gs::date AS local_day
      FROM generate_series((now() AT TIME ZONE c.timezone)::date,
                           (now() AT TIME ZONE c.timezone)::date + (p_days - 1), interval '1 day') gs
      WHERE extract(isodow FROM gs) < 6
    ) d
    CROSS JOIN generate_series(0, 5) n(i)
  )
  INSERT INTO appointment_slots (id, clinic_id, practitioner_id, starts_at, ends_at, visit_type, price_cents, currency)
  SELECT md5('demo-slot:' || practitioner_id || ':' || starts_at)::uuid, clinic_id, practitioner_id,
         starts_at, starts_at + interval '30 minutes', visit_type, price_cents, currency
  FROM candidate
  WHERE starts_at > now()
  ON CONFLICT DO NOTHING;
  GET DIAGNOSTICS v_slots = ROW_COUNT;
  RETURN v_slots;
END
$$;
COMMENT ON FUNCTION seed_demo_data(integer) IS 'Demo clinics, people and the next p_days of slots; idempotent. Returns the number of slots added.';
REVOKE EXECUTE ON FUNCTION seed_demo_data(integer) FROM PUBLIC;

DO $$
BEGIN
  IF current_setting('carebook.seed_demo', true) = 'on' THEN
    PERFORM seed_demo_data(28);
  END IF;
END
$$;

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
DO $$
DECLARE
  v_demo constant uuid[] := ARRAY['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222']::uuid[];
BEGIN
  DELETE FROM booking_requests WHERE clinic_id = ANY (v_demo);
  DELETE FROM payments WHERE clinic_id = ANY (v_demo);
  UPDATE appointment_slots SET appointment_id = NULL, is_available = (status = 'open')
    WHERE clinic_id = ANY (v_demo) AND appointment_id IS NOT NULL;
  DELETE FROM appointments WHERE clinic_id = ANY (v_demo);
  DELETE FROM appointment_slots WHERE clinic_id = ANY (v_demo);
  DELETE FROM patients WHERE clinic_id = ANY (v_demo);
  DELETE FROM users WHERE clinic_id = ANY (v_demo);
  DELETE FROM integrations WHERE clinic_id = ANY (v_demo);
  DELETE FROM clinics WHERE id = ANY (v_demo);
  DELETE FROM audit.audit_log WHERE clinic_id = ANY (v_demo);
END
$$;
DROP FUNCTION IF EXISTS seed_demo_data(integer);
