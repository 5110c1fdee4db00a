// Secret rotation smoke check: tools/check_webhook_secrets.sh signs a synthetic event per configured
// secret with each provider's scheme and POSTs it to a real listening Carebook. Right secrets pass,
// a wrong one fails, and the worker settles every event it left as "ignored": no business effect.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Listening, listen } from '../../src/http/server.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { WEBHOOK_ENV } from '../helpers/webhooks.js';
import { runTool } from './run-tool.js';

const NORTHSIDE_SECRET = 'whsec_northside_account_0003';

describe('tools/check_webhook_secrets.sh', () => {
  let db: TestDatabase;
  let t: TestApp;
  let server: Listening;
  let auditRowsBefore: number;

  beforeAll(async () => {
    db = await createTestDatabase();
    await db.pool.query(
      `INSERT INTO integrations (provider, name, secret_ref, platform_wide) VALUES ('stripe', 'northside', 'STRIPE_WEBHOOK_SECRET_NORTHSIDE', true)`,
    );
    t = await buildTestApp(db, { ...WEBHOOK_ENV, STRIPE_WEBHOOK_SECRET_NORTHSIDE: NORTHSIDE_SECRET });
    server = await listen(t.app, '127.0.0.1', 0);
    auditRowsBefore = (
      await sql<{ n: number }>(db.pool, 'SELECT count(*)::int AS n FROM audit.audit_log')
    )[0]!.n;
  });
  afterAll(async () => {
    await server.close();
    await db.drop();
  });

  const script = (args: string[], env: Record<string, string | undefined> = {}) =>
    runTool('check_webhook_secrets.sh', args, { ...WEBHOOK_ENV, CAREBOOK_URL: server.url, ...env });
  const events = () =>
    sql<{ provider: string; event_type: string; status: string; note: string | null }>(
      db.pool,
      'SELECT provider, event_type, status, note FROM webhook_events ORDER BY provider, event_id',
    );

  it('accepts every configured secret (both halves of a rotation) and never prints one', async () => {
    const result = await script([], { STRIPE_WEBHOOK_SECRET_NORTHSIDE: NORTHSIDE_SECRET });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const ok = result.stdout.split('\n').filter((line) => line.startsWith('ok '));
    expect(ok).toHaveLength(6);
    expect(result.stdout).toMatch(
      /^ok {4}stripe {3}STRIPE_WEBHOOK_SECRET #1 of 2 \(sha256:[0-9a-f]{8}\) {2}POST \/webhooks\/stripe → 200/m,
    );
    expect(result.stdout).toMatch(/^ok {4}stripe {3}STRIPE_WEBHOOK_SECRET #2 of 2 /m);
    expect(result.stdout).toMatch(/^ok {4}twilio {3}TWILIO_AUTH_TOKEN #1 of 1 .* → 200/m);
    expect(result.stdout).toMatch(/^ok {4}whatsapp {1}WHATSAPP_APP_SECRET #1 of 1 .* → 200/m);
    expect(result.stdout).toMatch(
      /^ok {4}whatsapp {1}WHATSAPP_VERIFY_TOKEN #1 of 1 .*GET \/webhooks\/whatsapp → 200/m,
    );
    expect(result.stdout).toMatch(/^ok {4}daily {4}DAILY_WEBHOOK_SECRET #1 of 1 .* → 200/m);
    expect(result.stdout).toContain('skip  stripe   STRIPE_WEBHOOK_SECRET_NORTHSIDE: pass --account');
    expect(result.stdout).toContain('all 6 secret(s) accepted');
    for (const secret of [
      NORTHSIDE_SECRET,
      ...Object.values(WEBHOOK_ENV).flatMap((value) => value.split(',')),
    ]) {
      if (!secret.startsWith('https://')) expect(result.stdout).not.toContain(secret);
    }
    expect((await events()).map((e) => `${e.provider} ${e.event_type} ${e.status}`)).toEqual([
      'daily carebook.secret_check pending',
      'stripe carebook.secret_check pending',
      'stripe carebook.secret_check pending',
      'twilio message.status pending',
      'whatsapp message.status pending',
    ]);
  });

  it('checks a further account with --account, on its own URL', async () => {
    const result = await script(
      ['--provider', 'stripe', '--account', 'STRIPE_WEBHOOK_SECRET_NORTHSIDE=northside'],
      {
        STRIPE_WEBHOOK_SECRET_NORTHSIDE: NORTHSIDE_SECRET,
      },
    );
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(
      /^ok .*STRIPE_WEBHOOK_SECRET_NORTHSIDE #1 of 1 .*POST \/webhooks\/stripe\/northside → 200/m,
    );
    expect(result.stdout).toContain('all 3 secret(s) accepted');
    expect(result.stdout).not.toMatch(/twilio|whatsapp|daily/);
  });

  it('fails (exit 1) on a wrong secret, naming it, and stores nothing for it', async () => {
    const before = (await events()).length;
    const result = await script([], { STRIPE_WEBHOOK_SECRET: 'whsec_not_the_one_carebook_has' });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /^FAIL {2}stripe {3}STRIPE_WEBHOOK_SECRET #1 of 1 \(sha256:[0-9a-f]{8}\) {2}POST \/webhooks\/stripe → 401 invalid_signature: bad_signature$/m,
    );
    expect(result.stdout).toMatch(/^ok {4}daily /m);
    expect(result.stdout).toContain('1 of 5 secret(s) NOT accepted');
    expect((await events()).length).toBe(before + 3); // twilio, whatsapp, daily; nothing from stripe
  });

  it('fails on a wrong verify token, and on a Twilio public URL that differs from the server’s', async () => {
    const token = await script(['--provider', 'whatsapp'], { WHATSAPP_VERIFY_TOKEN: 'not-the-token' });
    expect(token.code).toBe(1);
    expect(token.stdout).toMatch(/^FAIL .*WHATSAPP_VERIFY_TOKEN #1 of 1 .*GET \/webhooks\/whatsapp → 403/m);

    const twilio = await script(['--provider', 'twilio'], { CAREBOOK_PUBLIC_URL: undefined });
    expect(twilio.code).toBe(1);
    expect(twilio.stdout).toMatch(/^FAIL {2}twilio .* → 401 invalid_signature: bad_signature$/m);
  });

  it('exits 2 when no secret is configured, 3 when Carebook cannot be reached', async () => {
    const none = await runTool('check_webhook_secrets.sh', [], { CAREBOOK_URL: server.url });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no secret is set');
    const closed = await script([], { CAREBOOK_URL: 'http://127.0.0.1:1' });
    expect(closed.code).toBe(3);
    expect((await script(['--provider', 'paypal'])).code).toBe(2);
  });

  it('leaves only ignored events: the worker settles them all with no business effect', async () => {
    const drained = await runCli(['worker', '--drain'], { DATABASE_URL: db.serviceUrl });
    expect(drained.code, drained.stderr).toBe(0);
    const settled = await events();
    expect(settled.length).toBeGreaterThanOrEqual(9);
    for (const event of settled) {
      expect(event.status, `${event.provider} ${event.event_type}`).toBe('success');
      expect(event.note, `${event.provider} ${event.event_type}`).toMatch(/^ignored: /);
    }
    expect(
      await sql(
        db.pool,
        `SELECT (SELECT count(*)::int FROM notifications) AS notifications,
                (SELECT count(*)::int FROM inbound_messages) AS inbound,
                (SELECT count(*)::int FROM payments) AS payments,
                (SELECT count(*)::int FROM appointments) AS appointments,
                (SELECT count(*)::int FROM audit.audit_log) AS audit`,
      ),
    ).toEqual([{ notifications: 0, inbound: 0, payments: 0, appointments: 0, audit: auditRowsBefore }]);
  });
});
