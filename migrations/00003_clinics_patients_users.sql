-- 00003 — tenants and the people in them.
-- Every clinic-owned row carries clinic_id NOT NULL, and each table also has UNIQUE (clinic_id, id)
-- so that child tables can use composite foreign keys: a row can never point into another clinic.
-- That keeps the schema distributable by clinic_id later (docs/ops/scaling.md).

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE FUNCTION tg__set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION tg__set_updated_at() IS 'Trigger: keeps updated_at current on every update.';
REVOKE EXECUTE ON FUNCTION tg__set_updated_at() FROM PUBLIC;

CREATE TABLE clinics (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
  slug citext NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
  timezone text NOT NULL DEFAULT 'UTC' CHECK (length(timezone) BETWEEN 1 AND 64),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE clinics IS 'Tenants. Every clinic-owned row elsewhere carries clinic_id.';
COMMENT ON COLUMN clinics.slug IS 'URL-safe unique handle, lower case.';
COMMENT ON COLUMN clinics.timezone IS 'IANA zone the clinic schedules in (validated by the API).';
CREATE TRIGGER _100_set_updated_at BEFORE UPDATE ON clinics
  FOR EACH ROW EXECUTE FUNCTION tg__set_updated_at();

CREATE TABLE users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  clinic_id uuid NOT NULL REFERENCES clinics (id),
  role text NOT NULL CHECK (role IN ('practitioner', 'staff', 'clinic_admin')),
  full_name text NOT NULL CHECK (length(btrim(full_name)) BETWEEN 1 AND 200),
  email citext NOT NULL CHECK (email ~ '^[^@\s]+@[^@\s]+$' AND length(email) <= 254),
  phone text CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (clinic_id, id),
  UNIQUE (clinic_id, email)
);
COMMENT ON TABLE users IS 'Clinic staff and practitioners, one clinic each. Platform admins are not rows here: they exist only as JWT claims.';
COMMENT ON COLUMN users.role IS 'practitioner (has slots), staff (front desk), clinic_admin (manages the clinic).';
COMMENT ON COLUMN users.phone IS 'E.164, e.g. +15551234567.';
CREATE TRIGGER _100_set_updated_at BEFORE UPDATE ON users
  FOR EACH ROW EXECUTE FUNCTION tg__set_updated_at();

CREATE TABLE patients (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  clinic_id uuid NOT NULL REFERENCES clinics (id),
  full_name text NOT NULL CHECK (length(btrim(full_name)) BETWEEN 1 AND 200),
  email citext CHECK (email ~ '^[^@\s]+@[^@\s]+$' AND length(email) <= 254),
  phone text CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
  date_of_birth date CHECK (date_of_birth > '1900-01-01'),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (clinic_id, id)
);
COMMENT ON TABLE patients IS 'Patients of one clinic. Personal data: never copied into logs or metric labels.';
COMMENT ON COLUMN patients.phone IS 'E.164; inbound SMS and WhatsApp replies are matched to patients by it.';
CREATE TRIGGER _100_set_updated_at BEFORE UPDATE ON patients
  FOR EACH ROW EXECUTE FUNCTION tg__set_updated_at();

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
DROP TABLE IF EXISTS patients;
DROP TABLE IF EXISTS users;
DROP TABLE IF EXISTS clinics;
DROP FUNCTION IF EXISTS tg__set_updated_at();
