-- 00006 — inbound provider events, stored once.
-- webhook_id names the provider account the event came through (integrations), event_id is the
-- provider's own id; UNIQUE (webhook_id, event_id) is what makes a redelivery a no-op, for as long
-- as the row exists. Processing columns (leases, backoff, raw bytes) are added in 00012.
-- Events carry no clinic_id: which clinic an event concerns is only known once it is handled.

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE integrations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  provider text NOT NULL CHECK (provider IN ('stripe', 'twilio', 'whatsapp', 'daily')),
  clinic_id uuid REFERENCES clinics (id),
  name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 100),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (provider, name)
);
COMMENT ON TABLE integrations IS 'One row per provider account that sends us webhooks. Secrets are never stored here.';
COMMENT ON COLUMN integrations.clinic_id IS 'The clinic that owns this account, or NULL for a platform-wide account.';
CREATE TRIGGER _100_set_updated_at BEFORE UPDATE ON integrations
  FOR EACH ROW EXECUTE FUNCTION tg__set_updated_at();

CREATE TABLE webhook_events (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  webhook_id uuid NOT NULL REFERENCES integrations (id),
  event_id text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 255),
  received_at timestamptz NOT NULL DEFAULT now(),
  payload jsonb NOT NULL,
  signature text,
  status text NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'processing', 'success', 'failed', 'dead_letter')),
  attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  last_attempt_at timestamptz,
  error text,
  processed_at timestamptz,
  idempotency_key text,
  CONSTRAINT webhook_events_webhook_id_event_id_key UNIQUE (webhook_id, event_id)
);
COMMENT ON TABLE webhook_events IS 'Every verified provider event, once. Settled rows stay and keep deduplicating.';
COMMENT ON COLUMN webhook_events.event_id IS 'Provider event id (Stripe evt_…, Twilio MessageSid[:status], WhatsApp wamid[:status], Daily id).';
COMMENT ON COLUMN webhook_events.signature IS 'The signature header as received.';
COMMENT ON COLUMN webhook_events.idempotency_key IS 'Correlates retries of one business effect across events, when the provider gives one.';

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
DROP TABLE IF EXISTS webhook_events;
DROP TABLE IF EXISTS integrations;
