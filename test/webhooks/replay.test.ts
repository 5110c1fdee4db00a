// Replay as operators use it: `tools/webhook_replay.sh` / `carebook replay` and the admin API.
// Admin-only, audited with actor and reason, re-verifies stored signatures, dry-run changes nothing.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildTestApp, type TestApp } from '../helpers/app.js';
import { childEnv, ROOT } from '../helpers/cli.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { sendStripe, stripeEvent, WEBHOOK_ENV } from '../helpers/webhooks.js';

const run = promisify(execFile);

describe('replay tooling', () => {
  let db: TestDatabase;
  let t: TestApp;
  beforeAll(async () => {
    db = await createTestDatabase();
    t = await buildTestApp(db, WEBHOOK_ENV);
  });
  afterAll(async () => {
    await t.close();
    await db.drop();
  });

  /** Stores an event and forces it into the dead-letter state, as repeated failures would. */
  async function deadLetter(eventId: string, type = 'payment_intent.succeeded') {
    await sendStripe(t.app, stripeEvent(type, { id: 'pi_x', metadata: {} }, eventId));
    await db.pool.query(
      `UPDATE webhook_events SET status = 'dead_letter', attempts = 8, error = 'boom' WHERE event_id = $1`,
      [eventId],
    );
  }
  const statusOf = async (eventId: string) =>
    (
      await sql<{ status: string; attempts: number }>(
        db.pool,
        'SELECT status, attempts FROM webhook_events WHERE event_id = $1',
        [eventId],
      )
    )[0];
  const script = (args: string[], env: Record<string, string | undefined> = {}) =>
    run(path.join(ROOT, 'tools', 'webhook_replay.sh'), args, {
      env: childEnv({ DATABASE_URL: db.url, ...WEBHOOK_ENV, ...env }),
    });

  it('the script refuses to run without a reason', async () => {
    await expect(script(['--dry-run'])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--reason is required'),
    });
  });

  it('dry-run lists what it would replay, changes nothing, and is audited', async () => {
    await deadLetter('evt_dry');
    const { stdout } = await script([
      '--dry-run',
      '--provider',
      'stripe',
      '--since',
      '1h',
      '--reason',
      'look first',
      '--actor',
      'alice',
    ]);
    expect(stdout).toMatch(/dry run: \d+ of \d+ matching event\(s\) would be replayed; nothing changed/);
    expect(await statusOf('evt_dry')).toEqual({ status: 'dead_letter', attempts: 8 });
    expect(
      await sql(db.pool, `SELECT actor, reason FROM audit.audit_log WHERE action = 'webhook.replay_dry_run'`),
    ).toEqual([{ actor: 'alice', reason: 'look first' }]);
  });

  it('replays by id with a fresh attempt budget, audited with actor (OS user by default), reason and count', async () => {
    await deadLetter('evt_script');
    const [{ id }] = (await sql<{ id: string }>(
      db.pool,
      `SELECT id FROM webhook_events WHERE event_id = 'evt_script'`,
    )) as [{ id: string }];
    const { stdout } = await script(['--id', id, '--reason', 'INC-42 handler fixed']);
    expect(stdout).toContain('replayed 1 of 1 matching event(s); 0 skipped');
    expect(await statusOf('evt_script')).toEqual({ status: 'pending', attempts: 0 });
    const [audit] = await sql<{ actor: string; reason: string; replayed: string }>(
      db.pool,
      `SELECT actor, reason, details ->> 'replayed' AS replayed FROM audit.audit_log WHERE action = 'webhook.replay' AND reason = 'INC-42 handler fixed'`,
    );
    expect(audit).toMatchObject({ actor: expect.stringMatching(/^os:/), replayed: '1' });
  });

  it('skips an event whose stored signature no longer verifies (tampered or secret rotated away)', async () => {
    await deadLetter('evt_tampered');
    await db.pool.query(
      `UPDATE webhook_requests SET raw_body = convert_to('{"id":"evt_tampered","forged":true}', 'UTF8')
        WHERE id = (SELECT request_id FROM webhook_events WHERE event_id = 'evt_tampered')`,
    );
    await expect(script(['--provider', 'stripe', '--reason', 'try all'])).rejects.toMatchObject({
      code: 1,
      stdout: expect.stringMatching(/SKIPPED: signature no longer verifies \(bad_signature\)/),
    });
    expect((await statusOf('evt_tampered'))?.status).toBe('dead_letter');
  });

  it('the admin API lists dead letters and replays them, for platform admins only', async () => {
    await deadLetter('evt_api', 'charge.refunded');
    const staff = await bearer({ role: 'clinic_admin', clinic_id: '11111111-1111-4111-8111-111111111111' });
    const admin = await bearer({ role: 'platform_admin', sub: 'ops-bob' });
    expect(
      (await t.app.inject({ method: 'GET', url: '/admin/webhook-events', headers: staff })).statusCode,
    ).toBe(403);
    const listed = await t.app.inject({
      method: 'GET',
      url: '/admin/webhook-events?status=dead_letter&provider=stripe',
      headers: admin,
    });
    expect(listed.json().events.map((e: { event_id: string }) => e.event_id)).toContain('evt_api');
    const noReason = await t.app.inject({
      method: 'POST',
      url: '/admin/webhook-events/replay',
      headers: admin,
      payload: { event_type: 'charge.refunded' },
    });
    expect(noReason.statusCode).toBe(400);
    // Three spaces pass the schema's minLength; the service refuses them as a 400 (once a 500).
    const blankReason = await t.app.inject({
      method: 'POST',
      url: '/admin/webhook-events/replay',
      headers: admin,
      payload: { event_type: 'charge.refunded', reason: '   ' },
    });
    expect(blankReason.statusCode).toBe(400);
    expect(blankReason.json()).toMatchObject({
      code: 'validation_error',
      detail: expect.stringMatching(/reason/),
    });
    expect((await statusOf('evt_api'))?.status).toBe('dead_letter');
    const replayed = await t.app.inject({
      method: 'POST',
      url: '/admin/webhook-events/replay',
      headers: admin,
      payload: { event_type: 'charge.refunded', reason: 'from the dashboard' },
    });
    expect(replayed.json()).toMatchObject({ dry_run: false, replayed: 1, skipped: [] });
    expect((await statusOf('evt_api'))?.status).toBe('pending');
    expect(
      await sql(
        db.pool,
        `SELECT actor FROM audit.audit_log WHERE action = 'webhook.replay' AND reason = 'from the dashboard'`,
      ),
    ).toEqual([{ actor: 'ops-bob' }]);
  });
});
