-- 00005 — appointments, their payments, and the idempotency records of booking requests.
-- Active means pending_payment or confirmed; the one-active-per-slot and no-patient-overlap
-- guarantees are added in 00009, the booking procedures that maintain them in 00011.

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE appointments (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  clinic_id uuid NOT NULL REFERENCES clinics (id),
  slot_id uuid NOT NULL,
  patient_id uuid NOT NULL,
  status text NOT NULL CHECK (status IN ('pending_payment', 'confirmed', 'cancelled', 'expired', 'completed', 'no_show')),
  starts_at timestamptz NOT NULL,
  ends_at timestamptz NOT NULL,
  visit_type text NOT NULL CHECK (visit_type IN ('in_person', 'video')),
  notes text CHECK (length(notes) <= 2000),
  created_by text NOT NULL CHECK (length(created_by) BETWEEN 1 AND 200),
  hold_expires_at timestamptz,
  patient_confirmed_at timestamptz,
  cancelled_at timestamptz,
  cancellation_reason text CHECK (length(cancellation_reason) <= 500),
  video_room_name text UNIQUE,
  video_started_at timestamptz,
  video_ended_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (clinic_id, id),
  FOREIGN KEY (clinic_id, slot_id) REFERENCES appointment_slots (clinic_id, id),
  FOREIGN KEY (clinic_id, patient_id) REFERENCES patients (clinic_id, id),
  CONSTRAINT appointments_time_order CHECK (ends_at > starts_at),
  CONSTRAINT appointments_hold_only_when_pending
    CHECK (status <> 'pending_payment' OR hold_expires_at IS NOT NULL)
);
COMMENT ON TABLE appointments IS 'A patient in a slot. Active = pending_payment or confirmed; at most one active per slot (00009).';
COMMENT ON COLUMN appointments.starts_at IS 'Copied from the slot so that patient overlap can be excluded by a constraint.';
COMMENT ON COLUMN appointments.created_by IS 'JWT subject of whoever booked (patient or staff).';
COMMENT ON COLUMN appointments.hold_expires_at IS 'For pending_payment: when the unpaid hold lapses and the slot is freed.';
COMMENT ON COLUMN appointments.notes IS 'Free text from the booking request. May hold health information: never logged.';
COMMENT ON COLUMN appointments.video_room_name IS 'Daily room of a video visit, named from the appointment.';
CREATE TRIGGER _100_set_updated_at BEFORE UPDATE ON appointments
  FOR EACH ROW EXECUTE FUNCTION tg__set_updated_at();

-- The slot points back at its active appointment. (appointment_slots was created empty by 00004
-- of this release, so validating the key at once locks nothing that matters.)
-- squawk-ignore adding-foreign-key-constraint,constraint-missing-not-valid
ALTER TABLE appointment_slots ADD CONSTRAINT appointment_slots_appointment_fkey
  FOREIGN KEY (clinic_id, appointment_id) REFERENCES appointments (clinic_id, id);

CREATE TABLE payments (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  clinic_id uuid NOT NULL REFERENCES clinics (id),
  appointment_id uuid NOT NULL,
  patient_id uuid NOT NULL,
  amount_cents integer NOT NULL CHECK (amount_cents > 0),
  currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  status text NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'succeeded', 'failed', 'refunded', 'refund_required', 'cancelled')),
  provider text NOT NULL DEFAULT 'stripe' CHECK (provider IN ('stripe')),
  provider_payment_id text UNIQUE,
  failure_reason text CHECK (length(failure_reason) <= 500),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (clinic_id, id),
  FOREIGN KEY (clinic_id, appointment_id) REFERENCES appointments (clinic_id, id),
  FOREIGN KEY (clinic_id, patient_id) REFERENCES patients (clinic_id, id)
);
COMMENT ON TABLE payments IS 'Money owed for an appointment. Created pending by the booking transaction; settled by Stripe events.';
COMMENT ON COLUMN payments.provider_payment_id IS 'Stripe PaymentIntent id (pi_…), once known.';
COMMENT ON COLUMN payments.status IS 'refund_required: paid after the hold expired; money must go back, the slot is not re-booked.';
CREATE TRIGGER _100_set_updated_at BEFORE UPDATE ON payments
  FOR EACH ROW EXECUTE FUNCTION tg__set_updated_at();

CREATE TABLE booking_requests (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  clinic_id uuid NOT NULL REFERENCES clinics (id),
  client_id text NOT NULL CHECK (length(client_id) BETWEEN 1 AND 200),
  idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
  operation text NOT NULL CHECK (operation IN ('book', 'reschedule')),
  request_fingerprint text NOT NULL,
  response_status integer,
  response_body jsonb,
  appointment_id uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL DEFAULT now() + interval '24 hours',
  UNIQUE (clinic_id, client_id, idempotency_key)
);
COMMENT ON TABLE booking_requests IS 'Idempotency records: the stored result of a booking or reschedule, per client and key, kept at least 24 hours.';
COMMENT ON COLUMN booking_requests.client_id IS 'The authenticated JWT subject; keys are scoped per client.';
COMMENT ON COLUMN booking_requests.response_body IS 'The response replayed for a retry; NULL only inside the transaction that claimed the key, so never visible to others.';
COMMENT ON COLUMN booking_requests.request_fingerprint IS 'sha256 of the request; the same key with another fingerprint is refused (idempotency_key_reused).';

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
DROP TABLE IF EXISTS booking_requests;
DROP TABLE IF EXISTS payments;
ALTER TABLE IF EXISTS appointment_slots DROP CONSTRAINT IF EXISTS appointment_slots_appointment_fkey;
DROP TABLE IF EXISTS appointments;
