// The acceptance run's schedule checks, against the running `carebook serve` and `carebook worker`:
// a weekly schedule across the next New York fall-back night generates the right slots, search
// shows them in local time, one books through the API, and regeneration (the CLI, then an edit)
// leaves it booked.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import type pg from 'pg';
import { Temporal } from 'temporal-polyfill';
import { signToken } from '../src/http/auth.js';
import type { Call } from './acceptance-providers.js';

interface Context {
  call: Call;
  secret: string;
  admin: string;
  db: pg.Pool;
  env: NodeJS.ProcessEnv;
  root: string;
  check: (name: string, fn: () => Promise<string>) => Promise<void>;
}

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** The local date of the next fall-back transition in the zone, at least two days ahead. */
function nextFallBack(zone: string): string {
  let at = Temporal.Now.instant().add({ hours: 48 }).toZonedDateTimeISO(zone);
  for (;;) {
    const next = at.getTimeZoneTransition('next');
    if (!next) throw new Error(`${zone} has no transitions`);
    if (next.offsetNanoseconds < next.subtract({ minutes: 1 }).offsetNanoseconds)
      return next.toPlainDate().toString();
    at = next;
  }
}

export async function scheduleChecks({ call, secret, admin, db, env, root, check }: Context): Promise<void> {
  const zone = 'America/New_York';
  const sunday = nextFallBack(zone);
  const saturday = Temporal.PlainDate.from(sunday).subtract({ days: 1 }).toString();
  const clinic = (
    await call('POST', '/api/clinics', admin, {
      name: 'DST Clinic',
      slug: `dst-${Date.now()}`,
      timezone: zone,
    })
  ).body as { id: string };
  const staff = await signToken(secret, {
    sub: 'acceptance-dst-admin',
    role: 'clinic_admin',
    clinic_id: clinic.id,
  });
  const doctor = (
    await call('POST', `/api/clinics/${clinic.id}/practitioners`, staff, {
      full_name: 'Dr Night',
      email: 'night@example.com',
    })
  ).body as { id: string };
  const patient = (
    await call('POST', `/api/clinics/${clinic.id}/patients`, staff, { full_name: 'Nora Night' })
  ).body as {
    id: string;
  };
  const schedulesUrl = `/api/clinics/${clinic.id}/practitioners/${doctor.id}/schedules`;
  const night = {
    valid_from: saturday,
    valid_until: saturday,
    slot_minutes: 60,
    horizon_days: 366,
    rules: [{ weekday: 6, start: '22:00', end: '06:00' }],
  };
  let scheduleId = '';
  let repeated = '';

  await check(
    `a schedule across a DST change generates the right slots (${zone}, night into ${sunday})`,
    async () => {
      const created = await call('POST', schedulesUrl, staff, night);
      assert(created.status === 201, `POST schedule: ${created.status} ${JSON.stringify(created.body)}`);
      scheduleId = (created.body.schedule as { id: string }).id;
      const summary = created.body.generation as Record<string, number>;
      assert(summary.created === 9, `created ${JSON.stringify(summary)}`);
      return `9 one-hour slots (22:00 … 05:00, 01:00 twice): ${JSON.stringify(summary)}`;
    },
  );

  await check('availability search shows them in local time, the repeated hour as occurrence 2', async () => {
    const found = await call(
      'GET',
      `/api/availability?clinic_id=${clinic.id}&from=${saturday}&to=${sunday}`,
      staff,
    );
    const days = (found.body.days ?? []) as Array<{
      date: string;
      dst_transition: boolean;
      slots: Array<{ slot_id: string; local_start: string; occurrence: number }>;
    }>;
    const local = days.flatMap((d) =>
      d.slots.map((s) => `${s.local_start.slice(11, 16)}${s.local_start.slice(19)}#${s.occurrence}`),
    );
    const expected = [
      '22:00-04:00#1',
      '23:00-04:00#1',
      '00:00-04:00#1',
      '01:00-04:00#1',
      '01:00-05:00#2',
      '02:00-05:00#1',
      '03:00-05:00#1',
      '04:00-05:00#1',
      '05:00-05:00#1',
    ];
    assert(JSON.stringify(local) === JSON.stringify(expected), `got ${local.join(' ')}`);
    assert(days[1]?.dst_transition === true && days[0]?.dst_transition === false, 'dst_transition flags');
    repeated = days[1]?.slots[1]?.slot_id as string;
    return local.join(' ');
  });

  await check('booking the second 01:00 through the API succeeds', async () => {
    const booked = await call(
      'POST',
      '/api/appointments',
      staff,
      { slot_id: repeated, patient_id: patient.id },
      {
        'idempotency-key': randomUUID(),
      },
    );
    assert(booked.status === 201, `booking: ${booked.status} ${JSON.stringify(booked.body)}`);
    return `201, appointment ${(booked.body.appointment as { status: string }).status}`;
  });

  await check('regeneration (carebook slots generate, then a schedule edit) leaves it booked', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', path.join(root, 'src/cli.ts'), 'slots', 'generate', '--clinic', clinic.id],
      { cwd: root, env },
    );
    assert(/created 0, unchanged 9, withdrawn 0, needs_review 0/.test(stdout), `CLI: ${stdout.trim()}`);
    const edited = await call('PUT', `${schedulesUrl}/${scheduleId}`, staff, {
      ...night,
      rules: [{ weekday: 6, start: '20:00', end: '23:00' }],
    });
    const summary = edited.body.generation as Record<string, number>;
    assert(
      edited.status === 200 && summary.needs_review === 1,
      `PUT: ${edited.status} ${JSON.stringify(edited.body)}`,
    );
    const row = (
      await db.query(
        `SELECT s.status, a.status AS appointment FROM appointment_slots s JOIN appointments a ON a.id = s.appointment_id
          WHERE s.id = $1`,
        [repeated],
      )
    ).rows[0];
    assert(row?.status === 'needs_review' && row.appointment === 'confirmed', `slot ${JSON.stringify(row)}`);
    return `CLI: ${stdout.trim().replace(/ \(.*\)$/, '')}; edit: ${JSON.stringify(summary)}; the slot is needs_review, its appointment confirmed`;
  });
}
