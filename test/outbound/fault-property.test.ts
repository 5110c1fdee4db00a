// Issue 11's property: a day of bookings, payments, reschedules, cancellations and expired holds,
// while a real worker process runs them against the fakes, is SIGKILLed at random moments and
// meets random provider faults; once the outbox is drained there is exactly one effect per dedupe
// key at the providers (exactly-once.ts), and none of the effects the final state calls for is
// missing. fast-check prints the seed and the shrunk steps of a failing run.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fault } from '../../src/dev/fakes/index.js';
import { type Booked, clinicActions } from '../helpers/clinic-actions.js';
import { sql } from '../helpers/db.js';
import { expectExactlyOnce } from '../helpers/exactly-once.js';
import { type FaultBed, startFaultBed, type WorkerChild } from '../helpers/outbox-faults.js';

const ENDPOINTS = {
  stripe: ['POST /v1/payment_intents', 'POST /v1/payment_intents/:id/cancel', 'POST /v1/refunds'],
  daily: ['POST /v1/rooms', 'POST /v1/rooms/:name', 'DELETE /v1/rooms/:name'],
  twilio: ['POST /2010-04-01/Accounts/:accountSid/Messages.json'],
} as const;
type Provider = keyof typeof ENDPOINTS;

const fault = fc.oneof(
  fc.constant<Fault>({ kind: 'rate_limit', retryAfterSeconds: 1 }),
  fc.constant<Fault>({ kind: 'error_after_work' }),
  fc.constant<Fault>({ kind: 'drop_after_work' }),
  fc.constant<Fault>({ kind: 'hang' }),
  fc.constant<Fault>({ kind: 'hang', afterWork: true }),
);
const target = fc.nat({ max: 7 });
const step = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('book' as const),
      priced: fc.boolean(),
      video: fc.boolean(),
      patient: fc.nat({ max: 2 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('pay' as const), target }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('reschedule' as const), target }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('cancel' as const), target }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('expire' as const), target }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('fault' as const),
      provider: fc.constantFrom<Provider>('stripe', 'daily', 'twilio'),
      endpoint: fc.nat({ max: 2 }),
      fault,
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('crash' as const), afterMs: fc.nat({ max: 400 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('wait' as const), ms: fc.nat({ max: 300 }) }) },
);
type Step = typeof step extends fc.Arbitrary<infer S> ? S : never;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the outbox over a day of booking changes, with random crashes and faults', () => {
  let bed: FaultBed;
  beforeAll(async () => {
    bed = await startFaultBed();
  });
  afterAll(async () => {
    await bed?.close();
  });

  async function run(steps: Step[]) {
    const a = await clinicActions(bed, { patients: 3 });
    const booked: Array<Booked & { priced: boolean; video: boolean }> = [];
    let slots = 0;
    // Starts spread over the day ahead, 2 h away at least: each visit has one reminder, sent once
    // the clock moves; a new slot every time, so that no reschedule returns to an earlier start.
    const slot = (priced: boolean, video: boolean) => ({
      startsInMinutes: 120 + 35 * slots++,
      priceCents: priced ? 3500 : null,
      visitType: video ? ('video' as const) : ('in_person' as const),
    });
    const statusOf = async (appointment: string) =>
      (
        await sql<{ status: string }>(bed.db.pool, 'SELECT status FROM appointments WHERE id = $1', [
          appointment,
        ])
      )[0]!.status;
    let child: WorkerChild = await bed.spawnWorker();
    try {
      for (const s of steps) {
        const chosen = 'target' in s && booked.length > 0 ? booked[s.target % booked.length] : undefined;
        const status = chosen === undefined ? null : await statusOf(chosen.appointment);
        const active = status === 'pending_payment' || status === 'confirmed';
        if (s.op === 'book') {
          booked.push({ ...(await a.book(slot(s.priced, s.video), s.patient)), ...s });
        } else if (s.op === 'pay' && chosen !== undefined && status === 'pending_payment') {
          await a.pay(chosen);
        } else if (s.op === 'reschedule' && chosen !== undefined && active) {
          await a.reschedule(chosen.appointment, slot(chosen.priced, chosen.video));
        } else if (s.op === 'cancel' && chosen !== undefined && active) {
          await a.cancel(chosen.appointment);
        } else if (s.op === 'expire' && chosen !== undefined && status === 'pending_payment') {
          await a.expire(chosen.appointment);
        } else if (s.op === 'fault') {
          const endpoints = ENDPOINTS[s.provider];
          const endpoint = endpoints[s.endpoint % endpoints.length]!;
          (bed.fakes[s.provider].inject as (endpoint: string, ...faults: Fault[]) => void)(endpoint, s.fault);
        } else if (s.op === 'crash') {
          await sleep(s.afterMs);
          await child.kill();
          child = await bed.spawnWorker();
        } else if (s.op === 'wait') {
          await sleep(s.ms);
        }
      }
    } finally {
      // The last crash point: the worker dies with whatever it holds.
      await child.kill();
    }
    bed.clearFaults();
    await bed.settle();
    await expectExactlyOnce(bed, a.clinic.clinicId);
    await expectNothingMissing(a.clinic.clinicId);
  }

  /** What the final state calls for was done: a confirmed visit's confirmation and current reminder. */
  async function expectNothingMissing(clinicId: string) {
    const missing = await sql(
      bed.db.pool,
      `SELECT a.id, a.status, w.purpose FROM appointments a
        CROSS JOIN (VALUES ('confirmation'), ('reminder')) AS w(purpose)
        WHERE a.clinic_id = $1 AND a.status = 'confirmed'
          AND NOT EXISTS (
            SELECT 1 FROM outbox o WHERE o.appointment_id = a.id AND o.status = 'succeeded' AND o.purpose = w.purpose
               AND (w.purpose <> 'reminder'
                    OR o.dedupe_key = 'message:' || a.id || ':reminder:3600:' || extract(epoch FROM a.starts_at)::bigint))`,
      [clinicId],
    );
    expect(missing, 'effects a confirmed visit should have had').toEqual([]);
  }

  it('exactly one effect per dedupe key, and none missing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 6, maxLength: 14 }), async (steps) => {
        await run(steps);
      }),
      { numRuns: 5, endOnFailure: true },
    );
  }, 240_000);
});
