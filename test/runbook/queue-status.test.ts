// Worker stuck or lagging: tools/queue_status.sh (over `carebook status --json`) exits non-zero
// when an event has waited longer than --max-age, for cron and alerting.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase, urlFor } from '../helpers/db.js';
import { createClinic, createSlot } from '../helpers/fixtures.js';
import { bookHold, runTool } from './run-tool.js';

describe('tools/queue_status.sh', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  const script = (args: string[]) => runTool('queue_status.sh', args, { DATABASE_URL: db.url });
  const insertEvent = (eventId: string, ageSeconds: number) =>
    db.pool.query(
      `WITH r AS (
         INSERT INTO webhook_requests (webhook_id, raw_body, request_url)
         VALUES ('00000000-0000-4000-8000-000000000001', '\\x7b7d', 'https://api.clinic.example/webhooks/stripe')
         RETURNING id)
       INSERT INTO webhook_events (webhook_id, provider, event_id, event_type, payload, request_id, received_at)
       SELECT '00000000-0000-4000-8000-000000000001', 'stripe', $1, 'charge.refunded', '{}', r.id,
              now() - make_interval(secs => $2) FROM r`,
      [eventId, ageSeconds],
    );

  it('is OK on an empty queue', async () => {
    const result = await script(['--max-age', '60']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('nothing waiting, nothing dead-lettered');
    expect(result.stdout).toMatch(/^OK: oldest waiting item 0 s <= 60 s$/m);
  });

  it('alerts (exit 1) when a pending event is older than --max-age, and not below it', async () => {
    await insertEvent('evt_old_pending', 600);
    const late = await script(['--max-age', '60']);
    expect(late.code).toBe(1);
    expect(late.stdout).toMatch(/^ {2}stripe\s+pending\s+1\s+6\d\d s$/m);
    expect(late.stdout).toMatch(/^ALERT: oldest waiting item is 6\d\d s old \(> 60 s\)/m);

    const patient = await script(['--max-age', '3600']);
    expect(patient.code, patient.stdout).toBe(0);
    expect(patient.stdout).toMatch(/^OK: oldest waiting item 6\d\d s <= 3600 s$/m);
  });

  it('reports a batch that did not commit, and does not count an event waiting for its retry (failed)', async () => {
    // The record of a batch whose worker died: its row outlived it, nobody holds its lock.
    await db.pool.query(
      `INSERT INTO queue_batches (id, kind, item_ids)
       SELECT nextval('queue_batches_id_seq'), 'webhooks', ARRAY[id] FROM webhook_events WHERE event_id = 'evt_old_pending'`,
    );
    const interrupted = await script(['--max-age', '60']);
    expect(interrupted.code).toBe(1);
    expect(interrupted.stdout).toContain('items in batches that did not commit: 1');
    await db.pool.query('DELETE FROM queue_batches');

    await db.pool.query(
      `UPDATE webhook_events SET status = 'failed', attempts = 1, next_attempt_at = now() + interval '5 minutes'
        WHERE event_id = 'evt_old_pending'`,
    );
    const retrying = await script(['--max-age', '60']);
    expect(retrying.code, retrying.stdout).toBe(0);
    expect(retrying.stdout).toMatch(/^ {2}stripe\s+failed\s+1\s/m);
    expect(retrying.stdout).toContain('items in batches that did not commit: 0');
  });

  it('alerts on dead letters only when --max-dead-letters is given', async () => {
    await db.pool.query(
      `UPDATE webhook_events SET status = 'dead_letter' WHERE event_id = 'evt_old_pending'`,
    );
    expect((await script(['--max-age', '60'])).code).toBe(0);
    const dead = await script(['--max-age', '60', '--max-dead-letters', '0']);
    expect(dead.code).toBe(1);
    expect(dead.stdout).toMatch(/^ALERT: 1 dead letter\(s\) \(> 0\)/m);
  });

  it('alerts on a hold leak only when --max-overdue-holds is given', async () => {
    const clinic = await createClinic(db.pool);
    const hold = await bookHold(db, clinic, await createSlot(db.pool, clinic, { priceCents: 1000 }));
    expect((await script(['--max-overdue-holds', '0'])).code).toBe(0);
    await db.pool.query(
      `UPDATE appointments SET hold_expires_at = now() - interval '5 minutes' WHERE id = $1`,
      [hold.appointmentId],
    );
    const leak = await script(['--max-overdue-holds', '0']);
    expect(leak.code).toBe(1);
    expect(leak.stdout).toContain('holds overdue for expiry: 1');
    expect(leak.stdout).toMatch(/^ALERT: 1 hold\(s\) overdue for expiry \(> 0\)/m);
    expect((await script([])).code).toBe(0);
  });

  it('exits 2 on bad usage and 3 when the database cannot be reached', async () => {
    expect((await script(['--max-age', 'soon'])).code).toBe(2);
    expect((await runTool('queue_status.sh', [])).code).toBe(2);
    const unreachable = await runTool('queue_status.sh', [], { DATABASE_URL: urlFor(`${db.name}_missing`) });
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toContain('cannot reach the database');
  });
});
