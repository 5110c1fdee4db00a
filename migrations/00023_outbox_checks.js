// 00023 — validates the two CHECKs 00022 widened NOT VALID (notifications' purposes, inbound
// messages' intents): a scan under a lock that blocks neither reads nor writes, which is why it
// runs here, outside 00022's transaction. Rows written before 00022 satisfy the narrower lists.

export const up = (pgm) => {
  pgm.noTransaction();
  pgm.sql("SET lock_timeout = '5s'");
  pgm.sql('ALTER TABLE notifications VALIDATE CONSTRAINT notifications_purpose_check');
  pgm.sql('ALTER TABLE inbound_messages VALIDATE CONSTRAINT inbound_messages_intent_check');
  pgm.sql('ALTER TABLE notifications VALIDATE CONSTRAINT notifications_outbox_fkey');
};

// Validation changes no row; 00022's Down replaces the constraints.
export const down = () => {};
