-- 00004 — bookable time: one row per practitioner slot.
-- is_available is derived state kept in the row so that booking can lock exactly one row
-- (SELECT … FOR UPDATE); the CHECK below keeps it consistent with appointment_id and status.
-- The no-overlap exclusion constraint is added in 00009 with the other constraints.

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE appointment_slots (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  clinic_id uuid NOT NULL REFERENCES clinics (id),
  practitioner_id uuid NOT NULL,
  starts_at timestamptz NOT NULL,
  ends_at timestamptz NOT NULL,
  visit_type text NOT NULL DEFAULT 'in_person' CHECK (visit_type IN ('in_person', 'video')),
  price_cents integer CHECK (price_cents > 0),
  currency text CHECK (currency ~ '^[A-Z]{3}$'),
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'withdrawn')),
  is_available boolean NOT NULL DEFAULT true,
  appointment_id uuid,
  schedule_id uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (clinic_id, id),
  FOREIGN KEY (clinic_id, practitioner_id) REFERENCES users (clinic_id, id),
  CONSTRAINT appointment_slots_time_order CHECK (ends_at > starts_at),
  CONSTRAINT appointment_slots_max_length CHECK (ends_at - starts_at <= interval '12 hours'),
  CONSTRAINT appointment_slots_price_has_currency CHECK ((price_cents IS NULL) = (currency IS NULL)),
  CONSTRAINT appointment_slots_available_flag
    CHECK (is_available = (appointment_id IS NULL AND status = 'open'))
);
COMMENT ON TABLE appointment_slots IS 'Bookable practitioner time. Booking locks the row; overlapping open slots of one practitioner are excluded (00009).';
COMMENT ON COLUMN appointment_slots.is_available IS 'True exactly when the slot is open and holds no active appointment (checked by appointment_slots_available_flag).';
COMMENT ON COLUMN appointment_slots.appointment_id IS 'The active (pending_payment or confirmed) appointment in this slot, if any.';
COMMENT ON COLUMN appointment_slots.price_cents IS 'Price in the minor unit of currency; NULL means free (booking confirms at once).';
COMMENT ON COLUMN appointment_slots.status IS 'open, or withdrawn (taken off the schedule; kept for history).';
COMMENT ON COLUMN appointment_slots.schedule_id IS 'Reserved for slots generated from weekly schedules (not yet used).';
CREATE TRIGGER _100_set_updated_at BEFORE UPDATE ON appointment_slots
  FOR EACH ROW EXECUTE FUNCTION tg__set_updated_at();

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
DROP TABLE IF EXISTS appointment_slots;
