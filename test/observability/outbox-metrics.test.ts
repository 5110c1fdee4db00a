import { describe, expect, it } from 'vitest';
import { OUTBOX_KINDS } from '../../src/outbound/outbox.js';
import { bearer, metricsOf } from '../helpers/app.js';
import { sql } from '../helpers/db.js';
import { createSlot } from '../helpers/fixtures.js';
import { outboundSuite } from '../helpers/outbound-suite.js';
import { outboxOf } from '../helpers/outbox.js';
import { sendStripe, stripeEvent } from '../helpers/webhooks.js';

/** The value of one series on /metrics, or undefined when absent. */
function series(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

describe('outbox metrics', () => {
  const s = outboundSuite({ patients: 1, phonePrefix: '+1555040' });

  const metrics = () => metricsOf(s.t.app);

  it('due, scheduled, needs_reconcile and dead letters by kind; deliveries by kind and outcome', async () => {
    const booked = await s.book(
      await createSlot(s.db.pool, s.clinic, { priceCents: 4000, startsInMinutes: 3 * 24 * 60 }),
    );
    let text = await metrics();
    expect(series(text, 'outbox_jobs', 'kind="payment",state="due"')).toBe(1);
    expect(series(text, 'outbox_oldest_due_age_seconds', 'kind="payment"')).toBeGreaterThanOrEqual(0);

    await s.drain();
    const [intent] = s.fakes.stripe.paymentIntents(booked.payment!.id);
    // The confirmation SMS reaches Twilio, but its answer is lost: outcome unknown.
    s.fakes.twilio.inject('POST /2010-04-01/Accounts/:accountSid/Messages.json', { kind: 'drop_after_work' });
    await s.fakes.stripe.succeed(intent!.id);
    const paid = await sendStripe(
      s.t.app,
      stripeEvent('payment_intent.succeeded', {
        id: intent!.id,
        object: 'payment_intent',
        metadata: { carebook_payment_id: booked.payment!.id },
      }),
    );
    expect(paid.statusCode).toBe(200);
    await s.drain();
    text = await metrics();
    expect(series(text, 'outbox_jobs', 'kind="payment",state="due"')).toBeUndefined();
    expect(series(text, 'outbox_oldest_due_age_seconds', 'kind="payment"')).toBeUndefined();
    expect(series(text, 'outbox_jobs', 'kind="message",state="scheduled"')).toBe(2);
    expect(series(text, 'outbox_jobs', 'kind="message",state="needs_reconcile"')).toBe(1);
    expect(series(text, 'queue_items_settled_total', 'kind="outbox.payment",outcome="success"')).toBe(1);
    expect(series(text, 'queue_items_settled_total', 'kind="outbox.message",outcome="failed"')).toBe(1);

    // A PaymentIntent Stripe refuses for good: a dead letter, until an audited replay.
    s.fakes.stripe.inject('POST /v1/payment_intents', { kind: 'reject', code: 'parameter_invalid' });
    const refused = await s.book(
      await createSlot(s.db.pool, s.clinic, { priceCents: 2500, startsInMinutes: 4 * 24 * 60 }),
    );
    await s.drain();
    text = await metrics();
    expect(series(text, 'outbox_jobs', 'kind="payment",state="dead_letter"')).toBe(1);
    expect(series(text, 'queue_items_settled_total', 'kind="outbox.payment",outcome="dead_letter"')).toBe(1);
    const [row] = (await outboxOf(s.db.pool, refused.appointment.id)).filter((r) => r.kind === 'payment');
    expect(row?.status).toBe('failed');
    const [failed] = await sql<{ id: string }>(
      s.db.pool,
      `SELECT id FROM outbox WHERE appointment_id = $1 AND kind = 'payment'`,
      [refused.appointment.id],
    );
    const replay = await s.t.app.inject({
      method: 'POST',
      url: '/admin/outbox/replay',
      headers: await bearer({ role: 'platform_admin', sub: 'ops-oncall' }),
      payload: { ids: [failed!.id], reason: 'Stripe accepted the fix' },
    });
    expect(replay.statusCode, replay.body).toBe(200);
    await s.drain();
    text = await metrics();
    expect(series(text, 'outbox_jobs', 'kind="payment",state="dead_letter"')).toBeUndefined();
    expect(s.fakes.stripe.paymentIntents(refused.payment!.id)).toHaveLength(1);
    const audits = await sql<{ actor: string; reason: string; kind: string }>(
      s.db.pool,
      `SELECT actor, reason, details ->> 'kind' AS kind FROM audit.audit_log
        WHERE action = 'queue.replay' AND details -> 'refs' ? $1`,
      [failed!.id],
    );
    expect(audits).toEqual([
      { actor: 'ops-oncall', reason: 'Stripe accepted the fix', kind: 'outbox.payment' },
    ]);
  });

  it('labels carry outbox kinds and states only', async () => {
    const kinds = new Set<string>(OUTBOX_KINDS);
    const lines = (await metrics()).split('\n').filter((l) => /^outbox_/.test(l));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      const labels = Object.fromEntries(
        [...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1] as string, m[2] as string]),
      );
      expect(Object.keys(labels).every((name) => name === 'kind' || name === 'state')).toBe(true);
      expect(kinds.has(labels.kind as string)).toBe(true);
    }
  });
});
