// Issue 11's fault injection: the outbox against the fake providers when workers die, replies are
// lost, leases run out, providers throttle and fail, and bookings change under a call in flight.
// Each test ends with exactly one effect per dedupe key, read from the fakes (exactly-once.ts).
// "Dies" is a real worker process SIGKILLed; "past its lease" is one SIGSTOPped with a call open.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ClinicActions, clinicActions } from '../helpers/clinic-actions.js';
import { sql } from '../helpers/db.js';
import { expectExactlyOnce } from '../helpers/exactly-once.js';
import { outboxConfig, outboxOf, outboxWorker } from '../helpers/outbox.js';
import { type FaultBed, startFaultBed, until } from '../helpers/outbox-faults.js';

const CREATE_INTENT = 'POST /v1/payment_intents';
const CREATE_ROOM = 'POST /v1/rooms';
const SEND_SMS = 'POST /2010-04-01/Accounts/:accountSid/Messages.json';
const LIST_SMS = 'GET /2010-04-01/Accounts/:accountSid/Messages.json';
const SEND_CHAT = 'POST /v21.0/:phoneNumberId/messages';
// Visits start within the day, so each has one reminder (1 h before): a paid visit's confirmation
// ignores CAREBOOK_REMINDER_OFFSETS and stages 24 h too, skipped when already due.
const HOURS = 60;

describe('the outbox under faults', () => {
  let bed: FaultBed;
  beforeAll(async () => {
    bed = await startFaultBed();
  });
  afterAll(async () => {
    await bed?.close();
  });
  // Whatever a test left (it may have failed half-way): no worker, no fault meets the next test.
  afterEach(async () => {
    await bed.killWorkers();
    bed.clearFaults();
  });

  const hanging = () =>
    bed.fakes.stripe.hanging() +
    bed.fakes.daily.hanging() +
    bed.fakes.twilio.hanging() +
    bed.fakes.whatsapp.hanging();
  const held = async (workerId: string) =>
    (
      await sql<{ n: number }>(
        bed.db.pool,
        'SELECT count(*)::int AS n FROM queue_jobs WHERE locked_by = $1',
        [workerId],
      )
    )[0]!.n;
  const statuses = async (appointment: string) =>
    (await outboxOf(bed.db.pool, appointment)).map((r) => `${r.kind}/${r.purpose}:${r.status}`).sort();

  /** A priced video visit (SMS), a free video visit (WhatsApp) and a free visit in person (SMS). */
  async function threeBookings(
    options = { whatsapp: true },
  ): Promise<{ a: ClinicActions; priced: string; video: string; visit: string }> {
    const a = await clinicActions(bed, { patients: 3, whatsapp: options.whatsapp ? [1] : [] });
    const priced = await a.book({ priceCents: 4000, visitType: 'video', startsInMinutes: 3 * HOURS }, 0);
    const video = await a.book({ visitType: 'video', startsInMinutes: 4 * HOURS }, 1);
    const visit = await a.book({ startsInMinutes: 5 * HOURS }, 2);
    return { a, priced: priced.appointment, video: video.appointment, visit: visit.appointment };
  }

  /** Pays the priced booking and delivers what the payment stages (its confirmation and room). */
  async function payAndSettle(a: ClinicActions, appointment: string) {
    const [payment] = await sql<{ id: string }>(
      bed.db.pool,
      'SELECT id FROM payments WHERE appointment_id = $1',
      [appointment],
    );
    expect(await a.pay({ appointment, payment: payment!.id })).toBe(true);
    await bed.settle();
  }

  it('a worker SIGKILLed after its claims: the next worker makes each effect once', async () => {
    bed.fakes.stripe.inject(CREATE_INTENT, { kind: 'hang' });
    bed.fakes.daily.inject(CREATE_ROOM, { kind: 'hang' });
    bed.fakes.twilio.inject(SEND_SMS, { kind: 'hang' }, { kind: 'hang' });
    // WhatsApp has no lookup: a send whose worker died waits 10 minutes for a status callback
    // before it goes again (whatsapp.ts), so this test sends SMS only.
    const { a, priced, video, visit } = await threeBookings({ whatsapp: false });
    const child = await bed.spawnWorker();
    // Claimed and called, nothing done at the providers yet: the process dies.
    await until(() => hanging() === 4, 'four calls held open');
    await child.kill();
    expect(await held(child.id)).toBe(4);
    await bed.settle();
    await payAndSettle(a, priced);
    expect(await statuses(video)).toEqual([
      'message/confirmation:succeeded',
      'message/reminder:succeeded',
      'room/room:succeeded',
    ]);
    expect(await statuses(visit)).toEqual(['message/confirmation:succeeded', 'message/reminder:succeeded']);
    await expectExactlyOnce(bed, a.clinic.clinicId);
    expect(bed.faultsLeft(), 'faults injected and never met').toBe(0);
  });

  it('the provider does the work, then the reply is lost: a retry finds it, adopts it or looks it up', async () => {
    const drop = { kind: 'drop_after_work' } as const;
    // Each send meets it: the PaymentIntent, the video visit's room and its two WhatsApp messages
    // (confirmation, reminder), the other visit's two SMS; then the paid visit's room and SMS.
    bed.fakes.stripe.inject(CREATE_INTENT, drop);
    bed.fakes.daily.inject(CREATE_ROOM, drop);
    bed.fakes.twilio.inject(SEND_SMS, drop, drop);
    bed.fakes.whatsapp.inject(SEND_CHAT, drop, drop);
    const { a, priced, video, visit } = await threeBookings();
    await bed.settle();
    bed.fakes.daily.inject(CREATE_ROOM, drop);
    bed.fakes.twilio.inject(SEND_SMS, drop, drop);
    await payAndSettle(a, priced);
    const notes = async (appointment: string) =>
      (await outboxOf(bed.db.pool, appointment))
        .filter((r) => !r.note?.startsWith('skipped'))
        .map((r) => `${r.kind}/${r.purpose}: ${r.note}`)
        .sort();
    const found = 'found sent by a lookup: not sent again';
    expect(await notes(priced)).toEqual([
      `message/confirmation: ${found}`,
      `message/reminder: ${found}`,
      'payment/payment: PaymentIntent requires_payment_method (found)',
      'room/room: room adopted (an earlier attempt made it)',
    ]);
    // WhatsApp has no lookup: the status webhook named the row, which settled on the next attempt.
    expect(await notes(video)).toEqual([
      `message/confirmation: ${found}`,
      `message/reminder: ${found}`,
      'room/room: room adopted (an earlier attempt made it)',
    ]);
    expect(await notes(visit)).toEqual([`message/confirmation: ${found}`, `message/reminder: ${found}`]);
    await expectExactlyOnce(bed, a.clinic.clinicId);
    expect(bed.faultsLeft(), 'faults injected and never met').toBe(0);
  });

  it('the provider does the work, then its worker is SIGKILLed before it settles: one effect each', async () => {
    const afterWork = { kind: 'hang', afterWork: true } as const;
    bed.fakes.stripe.inject(CREATE_INTENT, afterWork);
    bed.fakes.daily.inject(CREATE_ROOM, afterWork);
    bed.fakes.twilio.inject(SEND_SMS, afterWork);
    bed.fakes.whatsapp.inject(SEND_CHAT, afterWork);
    const { a, priced, video, visit } = await threeBookings();
    const child = await bed.spawnWorker();
    await until(() => hanging() === 4, 'four calls done at the providers, their answers held');
    await child.kill();
    expect(await held(child.id)).toBe(4);
    expect(bed.fakes.twilio.messages().filter((m) => m.to.startsWith(a.phonePrefix))).toHaveLength(1);
    await bed.settle();
    await payAndSettle(a, priced);
    for (const appointment of [priced, video, visit]) {
      const rows = await outboxOf(bed.db.pool, appointment);
      expect(rows.filter((r) => !r.note?.startsWith('skipped')).map((r) => r.status)).toEqual(
        rows.filter((r) => !r.note?.startsWith('skipped')).map(() => 'succeeded'),
      );
    }
    await expectExactlyOnce(bed, a.clinic.clinicId);
    expect(bed.faultsLeft(), 'faults injected and never met').toBe(0);
  });

  it("a lease runs out and a second worker claims the job: the first one's late result changes nothing", async () => {
    const a = await clinicActions(bed, { patients: 2 });
    bed.fakes.stripe.inject(CREATE_INTENT, { kind: 'hang', afterWork: true });
    bed.fakes.twilio.inject(SEND_SMS, { kind: 'hang', afterWork: true });
    const priced = await a.book({ priceCents: 2500, startsInMinutes: 3 * HOURS }, 0);
    const visit = await a.book({ startsInMinutes: 4 * HOURS }, 1);
    const first = await bed.spawnWorker();
    await until(() => hanging() === 2, 'the first worker holds two calls open');
    // Paused with its calls open (a long GC pause, a frozen VM) until its leases run out for real.
    first.process.kill('SIGSTOP');
    await until(
      async () =>
        (
          await sql<{ n: number }>(
            bed.db.pool,
            'SELECT count(*)::int AS n FROM queue_jobs WHERE locked_by = $1 AND run_at <= now()',
            [first.id],
          )
        )[0]!.n === 2,
      'the first leases ended',
    );
    // The second worker claims both and holds them: its own lookups hang.
    bed.fakes.stripe.inject('GET /v1/payment_intents/search', { kind: 'hang' });
    bed.fakes.twilio.inject(LIST_SMS, { kind: 'hang' });
    const second = outboxWorker(bed.db.pool, outboxConfig(bed.env), bed.t.metrics, 'second');
    const secondRuns = Promise.all([second.runOnce('outbox.payment'), second.runOnce('outbox.message')]);
    secondRuns.catch(() => {}); // awaited below; a test failing before that must not leave it unhandled
    await until(() => hanging() === 4, "the second worker's lookups are open");
    // The first wakes up past its client timeout: its calls fail, and their settle is fenced out.
    first.process.kill('SIGCONT');
    await until(() => (first.output().match(/lease lost before the settle/g) ?? []).length === 2, 'fenced');
    const jobs = await sql(
      bed.db.pool,
      `SELECT j.kind, j.locked_by, j.attempts, o.status, o.last_error FROM queue_jobs j JOIN outbox o ON o.id = j.ref
        WHERE o.appointment_id = ANY ($1) AND j.locked_by IS NOT NULL ORDER BY j.kind`,
      [[priced.appointment, visit.appointment]],
    );
    expect(jobs).toEqual([
      {
        kind: 'outbox.message',
        locked_by: 'second',
        attempts: 2,
        status: 'needs_reconcile',
        last_error: null,
      },
      { kind: 'outbox.payment', locked_by: 'second', attempts: 2, status: 'in_flight', last_error: null },
    ]);
    await first.kill();
    bed.fakes.stripe.releaseHangs();
    bed.fakes.twilio.releaseHangs();
    expect(await secondRuns).toEqual([1, 1]);
    await bed.settle();
    await payAndSettle(a, priced.appointment);
    await expectExactlyOnce(bed, a.clinic.clinicId);
    expect(bed.faultsLeft(), 'faults injected and never met').toBe(0);
  });

  it('429 and 5xx sequences at every provider: retried after Retry-After or the backoff, once each', async () => {
    const { a, priced } = await threeBookings();
    const limited = { kind: 'rate_limit', retryAfterSeconds: 1 } as const;
    const worked = { kind: 'error_after_work' } as const;
    bed.fakes.stripe.inject(CREATE_INTENT, limited, { kind: 'reject', code: 'api_error' }, worked);
    bed.fakes.daily.inject(CREATE_ROOM, limited, { kind: 'reject', code: 'server-error' }, worked);
    bed.fakes.twilio.inject(SEND_SMS, limited, { kind: 'reject', code: 20500 }, worked);
    bed.fakes.whatsapp.inject(SEND_CHAT, limited, limited, worked);
    const before = bed.fakes.stripe.requests(CREATE_INTENT);
    await bed.settle();
    expect(bed.fakes.stripe.requests(CREATE_INTENT) - before).toBe(3);
    bed.fakes.daily.inject(CREATE_ROOM, limited, worked);
    bed.fakes.twilio.inject(SEND_SMS, limited, worked);
    await payAndSettle(a, priced);
    // The staff cancel the paid visit: its refund and the room's deletion meet the same.
    bed.fakes.stripe.inject('POST /v1/refunds', limited, { kind: 'reject', code: 'api_error' }, limited);
    bed.fakes.daily.inject('DELETE /v1/rooms/:name', limited, { kind: 'reject', code: 'server-error' });
    await a.cancel(priced);
    await bed.settle();
    expect(await statuses(priced)).toContain('refund/refund:succeeded');
    await expectExactlyOnce(bed, a.clinic.clinicId);
    expect(bed.faultsLeft(), 'faults injected and never met').toBe(0);
  });

  it('a cancel while the create is in flight: the PaymentIntent is cancelled, the room deleted', async () => {
    const a = await clinicActions(bed, { patients: 2 });
    const worker = outboxWorker(bed.db.pool, outboxConfig(bed.env), bed.t.metrics);
    bed.fakes.stripe.inject(CREATE_INTENT, { kind: 'hang', afterWork: true });
    const hold = await a.book({ priceCents: 3000, visitType: 'video', startsInMinutes: 3 * HOURS }, 0);
    const creating = worker.runOnce('outbox.payment');
    await until(() => bed.fakes.stripe.hanging() === 1, 'the PaymentIntent made, its answer held');
    await a.cancel(hold.appointment);
    bed.fakes.stripe.releaseHangs();
    await creating;

    bed.fakes.daily.inject(CREATE_ROOM, { kind: 'hang', afterWork: true });
    bed.fakes.twilio.inject(SEND_SMS, { kind: 'hang', afterWork: true });
    const video = await a.book({ visitType: 'video', startsInMinutes: 4 * HOURS }, 1);
    const calls = Promise.all([worker.runOnce('outbox.room'), worker.runOnce('outbox.message')]);
    await until(() => hanging() === 2, 'the room made and the confirmation sent, their answers held');
    await a.cancel(video.appointment);
    bed.fakes.daily.releaseHangs();
    bed.fakes.twilio.releaseHangs();
    await calls;
    await bed.settle();
    expect(await statuses(hold.appointment)).toEqual([
      'payment/payment:cancelled',
      'payment_cancel/payment:succeeded',
      'room_delete/room:succeeded',
    ]);
    expect(bed.fakes.stripe.paymentIntents(hold.payment!)).toEqual([
      expect.objectContaining({ status: 'canceled' }),
    ]);
    expect(await statuses(video.appointment)).toContain('room_delete/room:succeeded');
    await expectExactlyOnce(bed, a.clinic.clinicId);
    expect(bed.faultsLeft(), 'faults injected and never met').toBe(0);
  });
});
