// /admin/outbox: platform admins see the dead letters (no payloads) and replay them, audited; the
// replayed row is delivered once (a message tried before is looked up first).
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bearer } from '../helpers/app.js';
import { sql } from '../helpers/db.js';
import { createSlot } from '../helpers/fixtures.js';
import { outboundSuite } from '../helpers/outbound-suite.js';
import { outboxOf } from '../helpers/outbox.js';

describe('/admin/outbox', () => {
  const s = outboundSuite({ patients: 1, phonePrefix: '+1555040' });

  const admin = () => bearer({ role: 'platform_admin', sub: 'ops-alice' });

  it('lists a dead letter without its payload, and a replay (audited) delivers it once', async () => {
    // Twilio refuses the number for good (21211): the confirmation becomes a dead letter.
    s.fakes.twilio.inject('POST /2010-04-01/Accounts/:accountSid/Messages.json', {
      kind: 'reject',
      code: 21211,
    });
    const booked = await s.book(await createSlot(s.db.pool, s.clinic, { startsInMinutes: 3 * 24 * 60 }));
    const appointment = booked.appointment.id;
    await s.drain();
    const failed = await s.t.app.inject({
      method: 'GET',
      url: '/admin/outbox?status=failed',
      headers: await admin(),
    });
    expect(failed.statusCode, failed.body).toBe(200);
    const rows = (failed.json() as { rows: Array<Record<string, unknown>> }).rows;
    expect(rows).toEqual([
      expect.objectContaining({
        appointment_id: appointment,
        kind: 'message',
        purpose: 'confirmation',
        status: 'failed',
      }),
    ]);
    expect(rows[0]).not.toHaveProperty('payload');
    const forbidden = await s.t.app.inject({
      method: 'GET',
      url: '/admin/outbox',
      headers: await bearer({ role: 'staff', clinic_id: s.clinic.clinicId }),
    });
    expect(forbidden.statusCode).toBe(403);

    const replay = await s.t.app.inject({
      method: 'POST',
      url: '/admin/outbox/replay',
      headers: await admin(),
      payload: { ids: [rows[0]!.id, randomUUID()], reason: 'the number was corrected' },
    });
    expect(replay.statusCode, replay.body).toBe(200);
    expect(replay.json()).toMatchObject({ replayed: [rows[0]!.id], skipped: [expect.any(String)] });
    // Tried before, it may have gone on that attempt: looked up first, then sent once.
    expect((await outboxOf(s.db.pool, appointment)).find((r) => r.purpose === 'confirmation')).toMatchObject({
      status: 'needs_reconcile',
    });
    const lookups = s.fakes.twilio.requests('GET /2010-04-01/Accounts/:accountSid/Messages.json');
    await s.drain();
    expect(s.fakes.twilio.requests('GET /2010-04-01/Accounts/:accountSid/Messages.json')).toBe(lookups + 1);
    expect((await outboxOf(s.db.pool, appointment)).find((r) => r.purpose === 'confirmation')).toMatchObject({
      status: 'succeeded',
    });
    expect(s.fakes.twilio.messages()).toHaveLength(1);
    expect(
      await sql(
        s.db.pool,
        `SELECT actor, reason, details ->> 'kind' AS kind FROM audit.audit_log WHERE action = 'queue.replay'`,
      ),
    ).toEqual([{ actor: 'ops-alice', reason: 'the number was corrected', kind: 'outbox.message' }]);
  });
});
