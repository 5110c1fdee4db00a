// The acceptance run's outbound rows, against the running `carebook serve` and `carebook worker`
// pointed at the local fake providers (src/dev/local-providers.ts, as `npm start` runs them; read
// and driven over the control server's HTTP only): a priced video booking gets one PaymentIntent,
// the signed payment_intent.succeeded confirms it, one SMS, one room and two reminders follow; a
// reschedule moves the reminders and the room; a cancellation refunds, deletes the room and
// cancels the reminders; an expired unpaid hold cancels its PaymentIntent; STOP silences a number.
import { execFile } from 'node:child_process';
import { randomInt, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import type pg from 'pg';
import { startLocalProviders } from '../src/dev/local-providers.js';
import { signToken } from '../src/http/auth.js';
import { signTwilio, twilioFormBody } from '../test/helpers/provider-signing.js';
import type { Call } from './acceptance-providers.js';

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** The fakes, with webhooks signed by the run's own secrets; `env` points serve and worker at them. */
export async function outboundFakes(secrets: Record<string, string>) {
  const local = await startLocalProviders(secrets);
  assert(local, 'no provider was left to fake');
  return local;
}

type Fakes = Awaited<ReturnType<typeof outboundFakes>>;
interface Held {
  stripe: {
    payment_intents: Array<{ id: string; status: string; metadata: Record<string, string> }>;
    refunds: Array<{ payment_intent: string }>;
  };
  daily: { rooms: Array<{ name: string; config: { nbf?: number } }> };
  twilio: { messages: Array<{ to: string; body: string }> };
}

interface Context {
  call: Call;
  secret: string;
  admin: string;
  db: pg.Pool;
  env: NodeJS.ProcessEnv;
  base: string;
  root: string;
  fakes: Fakes;
  check: (name: string, fn: () => Promise<string>) => Promise<void>;
  waitFor: <T>(what: string, probe: () => Promise<T | null | undefined | false>) => Promise<T>;
}

export async function outboundChecks(ctx: Context): Promise<void> {
  const { call, secret, admin, db, fakes, check, waitFor } = ctx;
  const held = async () => (await (await fetch(fakes.controlUrl)).json()) as Held;
  const clinic = (
    await call('POST', '/api/clinics', admin, { name: 'Outbound Clinic', slug: `outbound-${Date.now()}` })
  ).body as { id: string };
  const staff = await signToken(secret, {
    sub: 'acceptance-outbound',
    role: 'clinic_admin',
    clinic_id: clinic.id,
  });
  const doctor = (
    await call('POST', `/api/clinics/${clinic.id}/practitioners`, staff, {
      full_name: 'Dr Remote',
      email: 'remote@example.com',
    })
  ).body as { id: string };
  const patient = async (name: string) => {
    const phone = `+1555${randomInt(1_000_000, 9_999_999)}`;
    const id = (await call('POST', `/api/clinics/${clinic.id}/patients`, staff, { full_name: name, phone }))
      .body.id as string;
    const token = await signToken(secret, {
      sub: name,
      role: 'patient',
      clinic_id: clinic.id,
      patient_id: id,
    });
    return { id, phone, token };
  };
  const slot = async (days: number, price: number | null, visitType = 'video') => {
    const startsAt = new Date(Date.now() + days * 86_400_000);
    const created = await call('POST', `/api/clinics/${clinic.id}/slots`, staff, {
      practitioner_id: doctor.id,
      starts_at: startsAt.toISOString(),
      ends_at: new Date(startsAt.getTime() + 1_800_000).toISOString(),
      visit_type: visitType,
      ...(price === null ? {} : { price_cents: price, currency: 'EUR' }),
    });
    return (created.body.slots as Array<{ id: string }>)[0]?.id as string;
  };
  const book = async (token: string, slotId: string) => {
    const booked = await call(
      'POST',
      '/api/appointments',
      token,
      { slot_id: slotId },
      { 'idempotency-key': randomUUID() },
    );
    assert(booked.status === 201, `booking answered ${booked.status}`);
    return booked.body as { appointment: { id: string; status: string }; payment: { id: string } | null };
  };
  const outbox = async (appointment: string) =>
    (
      await db.query<{ kind: string; purpose: string; status: string; note: string | null }>(
        'SELECT kind, purpose, status, note FROM outbox WHERE appointment_id = $1 ORDER BY created_at, kind, run_at',
        [appointment],
      )
    ).rows;
  const count = (rows: Array<{ purpose: string; status: string }>, purpose: string, status: string) =>
    rows.filter((row) => row.purpose === purpose && row.status === status).length;

  const pat = await patient('Pat Outbound');
  let visit = { appointment: '', intent: '', room: '', nbf: 0 };
  await check(
    'a priced video booking: one PaymentIntent, paid → confirmed, one SMS, one room, two reminders',
    async () => {
      const booked = await book(pat.token, await slot(3, 4500));
      const paymentId = booked.payment?.id as string;
      const intents = await waitFor('the PaymentIntent at the fake', async () => {
        const found = (await held()).stripe.payment_intents.filter(
          (pi) => pi.metadata.carebook_payment_id === paymentId,
        );
        return found.length > 0 && found;
      });
      assert(intents.length === 1, `${intents.length} PaymentIntents`);
      const intent = intents[0]!.id;
      const paid = (await (
        await fetch(`${fakes.controlUrl}/stripe/payment_intents/${intent}/succeed`, { method: 'POST' })
      ).json()) as { webhook_status: number };
      assert(
        paid.webhook_status === 200,
        `the signed payment_intent.succeeded answered ${paid.webhook_status}`,
      );
      const rows = await waitFor('the confirmation, the room and the reminders', async () => {
        const found = await outbox(booked.appointment.id);
        return (
          count(found, 'confirmation', 'succeeded') === 1 && count(found, 'room', 'succeeded') === 1 && found
        );
      });
      const status = (await call('GET', `/api/appointments/${booked.appointment.id}`, pat.token)).body
        .appointment as { status: string };
      const state = await held();
      const sms = state.twilio.messages.filter((m) => m.to === pat.phone);
      assert(status.status === 'confirmed', `appointment ${status.status}`);
      assert(sms.length === 1 && sms[0]!.body.includes('is confirmed'), `${sms.length} SMS to the patient`);
      assert(state.daily.rooms.length === 1, `${state.daily.rooms.length} rooms`);
      assert(
        count(rows, 'reminder', 'pending') === 2,
        `reminders: ${rows.filter((r) => r.purpose === 'reminder').map((r) => r.status)}`,
      );
      const room = state.daily.rooms[0]!;
      visit = { appointment: booked.appointment.id, intent, room: room.name, nbf: Number(room.config.nbf) };
      return `${intent}: 1 PaymentIntent, confirmed, 1 SMS, room ${room.name}, 2 reminders pending`;
    },
  );

  await check('a reschedule moves the reminders and the room', async () => {
    const moved = await call(
      'POST',
      `/api/appointments/${visit.appointment}/reschedule`,
      pat.token,
      { new_slot_id: await slot(5, 4500) },
      { 'idempotency-key': randomUUID() },
    );
    assert(moved.status === 200, `reschedule answered ${moved.status}`);
    const rows = await waitFor('the room update', async () => {
      const found = await outbox(visit.appointment);
      return found.some((r) => r.kind === 'room_update' && r.status === 'succeeded') && found;
    });
    const rooms = (await held()).daily.rooms;
    assert(rooms.length === 1 && rooms[0]!.name === visit.room, `${rooms.length} rooms after the move`);
    assert(Number(rooms[0]!.config.nbf) >= visit.nbf + 86_400, 'the room window did not move');
    assert(
      count(rows, 'reminder', 'cancelled') === 2 && count(rows, 'reminder', 'pending') === 2,
      'reminders were not moved',
    );
    return 'the same room, opening 2 days later; 2 old reminders cancelled, 2 new pending';
  });

  await check('a cancellation refunds, deletes the room and cancels the reminders', async () => {
    const cancelled = await call('POST', `/api/appointments/${visit.appointment}/cancel`, staff, {
      reason: 'acceptance',
    });
    assert(cancelled.status === 200, `cancel answered ${cancelled.status}`);
    const state = await waitFor('the refund and the room deleted', async () => {
      const now = await held();
      return (
        now.stripe.refunds.some((r) => r.payment_intent === visit.intent) &&
        now.daily.rooms.length === 0 &&
        now
      );
    });
    const rows = await outbox(visit.appointment);
    assert(
      state.stripe.refunds.filter((r) => r.payment_intent === visit.intent).length === 1,
      'not one refund',
    );
    assert(count(rows, 'reminder', 'pending') === 0, 'a reminder is still pending');
    return `1 refund of ${visit.intent}, room deleted, ${count(rows, 'reminder', 'cancelled')} reminders cancelled`;
  });

  await check('an unpaid hold that expires cancels its PaymentIntent (carebook sweep)', async () => {
    const other = await patient('Sam Outbound');
    const booked = await book(other.token, await slot(4, 3000, 'in_person'));
    const paymentId = booked.payment?.id as string;
    await waitFor('the PaymentIntent', async () =>
      (await held()).stripe.payment_intents.some((pi) => pi.metadata.carebook_payment_id === paymentId),
    );
    await db.query(`UPDATE appointments SET hold_expires_at = now() - interval '1 minute' WHERE id = $1`, [
      booked.appointment.id,
    ]);
    const swept = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'sweep'], {
      cwd: ctx.root,
      env: ctx.env,
    });
    const intents = await waitFor('the PaymentIntent cancelled', async () => {
      const found = (await held()).stripe.payment_intents.filter(
        (pi) => pi.metadata.carebook_payment_id === paymentId,
      );
      return found.every((pi) => pi.status === 'canceled') && found;
    });
    assert(intents.length === 1, `${intents.length} PaymentIntents`);
    return `${swept.stdout.trim().split('\n')[0]}; ${intents[0]!.id} canceled`;
  });

  await check('STOP from a number: no further messages to it', async () => {
    const params = {
      MessageSid: `SM${randomUUID().replaceAll('-', '')}`,
      From: pat.phone,
      To: '+15550000000',
      Body: 'STOP',
      AccountSid: 'AC1',
    };
    const signed = signTwilio(`${ctx.base}/webhooks/twilio`, params, String(ctx.env.TWILIO_AUTH_TOKEN));
    const stop = await fetch(`${ctx.base}/webhooks/twilio`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': signed.signature,
      },
      body: twilioFormBody(params),
    });
    assert(stop.status === 200, `the inbound STOP answered ${stop.status}`);
    await waitFor(
      'the opt-out',
      async () =>
        (await db.query(`SELECT 1 FROM message_consent WHERE phone = $1 AND opted_out`, [pat.phone]))
          .rowCount,
    );
    const before = (await held()).twilio.messages.filter((m) => m.to === pat.phone).length;
    const booked = await book(pat.token, await slot(6, null, 'in_person'));
    const row = await waitFor('the confirmation settled', async () =>
      (await outbox(booked.appointment.id)).find(
        (r) => r.purpose === 'confirmation' && r.status !== 'pending' && r.status !== 'in_flight',
      ),
    );
    const after = (await held()).twilio.messages.filter((m) => m.to === pat.phone).length;
    assert(
      row.status === 'cancelled' && after === before,
      `confirmation ${row.status}; ${after - before} new SMS`,
    );
    return `confirmation ${row.status} (${row.note}); no SMS after STOP`;
  });
}
