-- 00019 — the providers, listed once: webhook_providers, which every column naming a provider now
-- refers to, in place of the CHECK lists of 00005, 00006 and 00012 and the CASE maps of 00012
-- (the secret variable a provider's secret_ref starts with, the default accounts). Each row
-- mirrors a descriptor in src/webhooks/providers/ (a test compares them); a new provider is one
-- INSERT here, and a trigger gives it its default account.
--   * webhook_events keeps one foreign-key check per stored event: (webhook_id, provider) refers
--     to integrations (id, provider), so an event's provider is also its account's. A second key,
--     on provider alone, made a bulk insert of events 70 % slower (+2.6 µs a row, PostgreSQL 15).
--   * Keys on tables that may hold many rows are added NOT VALID and left so (still checked on
--     every insert and update): validating would scan under the lock the ADD took, and every row
--     passed the stricter CHECK they replace; ingestion has always stored the provider of the
--     account it looked up by that provider.
--   * The subsets those CHECKs also stated (only Stripe takes payments, only Twilio and WhatsApp
--     send messages) now rest with the code that writes the rows; the key says it is a provider.
--   * A CHECK cannot read another table, so a trigger keeps secret_ref starting with its
--     provider's variable, raising 23514 with the old constraint's name.

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- webhook_providers ---------------------------------------------------------------------------
CREATE TABLE webhook_providers (
  name text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,31}$'),
  secret_variable text NOT NULL UNIQUE CHECK (secret_variable ~ '^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$'),
  default_integration_id uuid NOT NULL UNIQUE
);
ALTER TABLE webhook_providers ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_providers FORCE ROW LEVEL SECURITY;
CREATE POLICY everyone_select ON webhook_providers FOR SELECT
  TO carebook_app, carebook_readonly, carebook_worker, carebook_admin USING (true);
-- Nobody is granted INSERT, UPDATE or DELETE, so this admits the owner (migrations) alone: a
-- provider exists only with its code.
CREATE POLICY owner_all ON webhook_providers FOR ALL USING (true) WITH CHECK (true);
GRANT SELECT ON webhook_providers TO carebook_app, carebook_readonly, carebook_worker, carebook_admin;
COMMENT ON TABLE webhook_providers IS 'The webhook providers, one row per descriptor in src/webhooks/providers/ (a test keeps them equal). Written by migrations only.';
COMMENT ON COLUMN webhook_providers.name IS 'The provider''s name: /webhooks/{name}, and the provider column of integrations, webhook_events, notifications, inbound_messages and payments.';
COMMENT ON COLUMN webhook_providers.secret_variable IS 'Environment variable holding the default account''s secret(s); further accounts use it with a suffix (integrations.secret_ref).';
COMMENT ON COLUMN webhook_providers.default_integration_id IS 'Id of the integrations row named default, behind /webhooks/{name}; created by the insert trigger.';

CREATE FUNCTION tg_webhook_providers__create_default_account() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
BEGIN
  -- Platform-wide, like the four of 00012 (which already exist, hence DO NOTHING).
  INSERT INTO integrations (id, provider, name, secret_ref, platform_wide)
  VALUES (NEW.default_integration_id, NEW.name, 'default', NEW.secret_variable, true)
  ON CONFLICT (id) DO NOTHING;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION tg_webhook_providers__create_default_account() IS 'Trigger: a new provider''s default account (name default, its secret variable, platform-wide).';
REVOKE EXECUTE ON FUNCTION tg_webhook_providers__create_default_account() FROM PUBLIC;
CREATE TRIGGER _200_create_default_account AFTER INSERT ON webhook_providers
  FOR EACH ROW EXECUTE FUNCTION tg_webhook_providers__create_default_account();

INSERT INTO webhook_providers (name, secret_variable, default_integration_id) VALUES
  ('stripe', 'STRIPE_WEBHOOK_SECRET', '00000000-0000-4000-8000-000000000001'),
  ('twilio', 'TWILIO_AUTH_TOKEN', '00000000-0000-4000-8000-000000000002'),
  ('whatsapp', 'WHATSAPP_APP_SECRET', '00000000-0000-4000-8000-000000000003'),
  ('daily', 'DAILY_WEBHOOK_SECRET', '00000000-0000-4000-8000-000000000004');

-- integrations: its provider, and a secret_ref that starts with that provider's variable -------
ALTER TABLE integrations DROP CONSTRAINT integrations_provider_check;
-- A handful of rows: validated here, and no concurrent index build is needed below either.
-- squawk-ignore adding-foreign-key-constraint,constraint-missing-not-valid
ALTER TABLE integrations ADD CONSTRAINT integrations_provider_fkey
  FOREIGN KEY (provider) REFERENCES webhook_providers (name);
-- The target of webhook_events' key.
-- squawk-ignore disallowed-unique-constraint,constraint-missing-not-valid
ALTER TABLE integrations ADD CONSTRAINT integrations_id_provider_key UNIQUE (id, provider);
ALTER TABLE integrations DROP CONSTRAINT integrations_secret_ref_names_provider;

CREATE FUNCTION tg_integrations__secret_ref_names_provider() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
  v_variable text;
BEGIN
  SELECT p.secret_variable INTO v_variable FROM webhook_providers p WHERE p.name = NEW.provider;
  -- An unknown provider is left to the foreign key, which reports it as such.
  IF FOUND AND NEW.secret_ref !~ ('^' || v_variable || '(_[A-Z0-9]+)*$') THEN
    RAISE EXCEPTION 'secret_ref % is not % or %_<SUFFIX>', NEW.secret_ref, v_variable, v_variable
      USING errcode = 'check_violation', constraint = 'integrations_secret_ref_names_provider',
            table = 'integrations';
  END IF;
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION tg_integrations__secret_ref_names_provider() IS 'Trigger: secret_ref is the provider''s secret variable, or it with a suffix (STRIPE_WEBHOOK_SECRET_NORTHSIDE).';
REVOKE EXECUTE ON FUNCTION tg_integrations__secret_ref_names_provider() FROM PUBLIC;
CREATE TRIGGER _100_secret_ref_names_provider BEFORE INSERT OR UPDATE OF provider, secret_ref ON integrations
  FOR EACH ROW EXECUTE FUNCTION tg_integrations__secret_ref_names_provider();

-- The other provider columns -------------------------------------------------------------------
ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_provider_check;
ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_webhook_id_fkey;
ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_integration_provider_fkey
  FOREIGN KEY (webhook_id, provider) REFERENCES integrations (id, provider) NOT VALID;
ALTER TABLE notifications DROP CONSTRAINT notifications_provider_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_provider_fkey
  FOREIGN KEY (provider) REFERENCES webhook_providers (name) NOT VALID;
ALTER TABLE inbound_messages DROP CONSTRAINT inbound_messages_provider_check;
ALTER TABLE inbound_messages ADD CONSTRAINT inbound_messages_provider_fkey
  FOREIGN KEY (provider) REFERENCES webhook_providers (name) NOT VALID;
ALTER TABLE payments DROP CONSTRAINT payments_provider_check;
ALTER TABLE payments ADD CONSTRAINT payments_provider_fkey
  FOREIGN KEY (provider) REFERENCES webhook_providers (name) NOT VALID;

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
ALTER TABLE payments DROP CONSTRAINT IF EXISTS payments_provider_fkey;
ALTER TABLE payments ADD CONSTRAINT payments_provider_check CHECK (provider IN ('stripe'));
ALTER TABLE inbound_messages DROP CONSTRAINT IF EXISTS inbound_messages_provider_fkey;
ALTER TABLE inbound_messages ADD CONSTRAINT inbound_messages_provider_check CHECK (provider IN ('twilio', 'whatsapp'));
ALTER TABLE notifications DROP CONSTRAINT IF EXISTS notifications_provider_fkey;
ALTER TABLE notifications ADD CONSTRAINT notifications_provider_check CHECK (provider IN ('twilio', 'whatsapp'));
ALTER TABLE webhook_events DROP CONSTRAINT IF EXISTS webhook_events_integration_provider_fkey;
ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_webhook_id_fkey
  FOREIGN KEY (webhook_id) REFERENCES integrations (id);
ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_provider_check
  CHECK (provider IN ('stripe', 'twilio', 'whatsapp', 'daily'));

DROP TRIGGER IF EXISTS _100_secret_ref_names_provider ON integrations;
DROP FUNCTION IF EXISTS tg_integrations__secret_ref_names_provider();
ALTER TABLE integrations ADD CONSTRAINT integrations_secret_ref_names_provider CHECK (
  secret_ref ~ ('^' || CASE provider WHEN 'stripe' THEN 'STRIPE_WEBHOOK_SECRET' WHEN 'twilio' THEN 'TWILIO_AUTH_TOKEN'
                                     WHEN 'whatsapp' THEN 'WHATSAPP_APP_SECRET' ELSE 'DAILY_WEBHOOK_SECRET' END
                || '(_[A-Z0-9]+)*$'));
ALTER TABLE integrations DROP CONSTRAINT IF EXISTS integrations_id_provider_key;
ALTER TABLE integrations DROP CONSTRAINT IF EXISTS integrations_provider_fkey;
ALTER TABLE integrations ADD CONSTRAINT integrations_provider_check
  CHECK (provider IN ('stripe', 'twilio', 'whatsapp', 'daily'));

-- The default accounts stay: 00012 created them, and its Down removes them.
DROP TABLE IF EXISTS webhook_providers;
DROP FUNCTION IF EXISTS tg_webhook_providers__create_default_account();
