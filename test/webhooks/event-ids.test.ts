// New webhook events get UUID version 7 ids (00028): the first 48 bits are the time the event was
// stored, in milliseconds, so events stored later have ids that sort later and a batch of events
// that arrived together sits on neighbouring primary-key pages.
import { describe, expect, it } from 'vitest';
import { sql } from '../helpers/db.js';
import { sendStripe, stripeEvent } from '../helpers/webhooks.js';
import { useWorkerFixture } from '../helpers/worker-fixture.js';

const RFC_9562_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('webhook event ids', () => {
  const f = useWorkerFixture();

  it('are version 7, carry the time they were stored, and grow with it', async () => {
    for (const n of [1, 2, 3]) {
      await sendStripe(f.t.app, stripeEvent('customer.updated', { id: `cus_id${n}` }, `evt_ids_${n}`));
      await new Promise((resolve) => setTimeout(resolve, 5)); // a later millisecond each
    }
    const rows = await sql<{ id: string; received_ms: string }>(
      f.db.pool,
      `SELECT id::text, floor(extract(epoch FROM received_at) * 1000)::bigint::text AS received_ms
         FROM webhook_events WHERE event_id LIKE 'evt_ids_%' ORDER BY event_id`,
    );
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      expect(row.id).toMatch(RFC_9562_V7);
      const stamped = Number.parseInt(row.id.replace(/-/g, '').slice(0, 12), 16);
      // received_at is the transaction's start; the id is made a moment later in the same one.
      expect(stamped - Number(row.received_ms)).toBeGreaterThanOrEqual(0);
      expect(stamped - Number(row.received_ms)).toBeLessThan(1000);
    }
    const ids = rows.map((row) => row.id);
    expect([...ids].sort()).toEqual(ids);
  });
});
