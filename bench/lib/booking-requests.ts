// The booking requests bench/booking.ts sends: the API's exact statement for the direct baseline
// and pgbench, one POST /api/appointments, and the 200-way race on one slot.
import pg from 'pg';
import { Agent, request } from 'undici';
import { callInContext } from '../../src/db/tenant.js';
import { tenantContext } from '../../src/http/auth.js';
import type { BenchDatabase } from './fixtures.js';
import { patientId, slotId } from './fixtures.js';

export const RACE_SIZE = 200;
export const RACES = 3;
export const HOLD_MINUTES = 15;
export const STAFF_USER = 'bench-staff';

export interface ApiTarget {
  url: string;
  token: string;
  agent: Agent;
}

/**
 * The statement src/booking/service.ts sends for POST /api/appointments, built the same way (its
 * context for a staff member, book_appointment called LATERAL), and a pgbench version of it: the
 * context as literals, the slot from a sequence so every call gets a distinct free slot, the
 * patient from pgbench's client number, a fresh idempotency key.
 */
export function bookingStatements(clinicId: string) {
  const context = tenantContext({ sub: STAFF_USER, role: 'staff', clinicId, patientId: null });
  // The service's own builder, with the service's own call: the arguments are $1…$4, the context after them.
  const placeholders = ['slot', 'patient', 'key', 'metadata'];
  const statement = callInContext(context, 'book_appointment($1, $2, ctx.user_id, $3, $4)', placeholders, {
    'carebook.hold_minutes': String(HOLD_MINUTES),
  });
  const contextValues = statement.values.slice(placeholders.length) as string[];
  const pgbenchArguments = [
    "bench.slot_id(nextval('bench.slot_seq'))",
    'bench.patient_id(:patient_base::bigint + :client_id::bigint)',
    "'pgbench-' || gen_random_uuid()",
    "'{}'::jsonb",
  ];
  const pgbenchScript = `${statement.text.replace(/\$(\d+)/g, (_, digits: string) => {
    const index = Number(digits) - 1;
    return index < placeholders.length
      ? (pgbenchArguments[index] as string)
      : pg.escapeLiteral(contextValues[index - placeholders.length] ?? '');
  })};\n`;
  return { sql: statement.text, contextValues, pgbenchScript };
}

/** POSTs one booking as the staff member; resolves to the status after reading the body. */
export async function postBooking(
  api: ApiTarget,
  slot: number,
  patient: number,
  key: string,
): Promise<{ status: number; body: string }> {
  const response = await request(`${api.url}/api/appointments`, {
    method: 'POST',
    dispatcher: api.agent,
    headers: {
      authorization: `Bearer ${api.token}`,
      'content-type': 'application/json',
      'idempotency-key': key,
    },
    body: JSON.stringify({ slot_id: slotId(slot), patient_id: patientId(patient) }),
  });
  return { status: response.statusCode, body: await response.body.text() };
}

/** RACE_SIZE requests for one slot at once, RACES times; returns the wall times and any problems. */
export async function races(
  db: BenchDatabase,
  appUrl: string,
  token: string,
): Promise<{ ms: number[]; won: number; problems: string[] }> {
  const patients = db.allocatePatients(RACE_SIZE);
  const agent = new Agent({ connections: RACE_SIZE, pipelining: 1 });
  const api = { url: appUrl, token, agent };
  const result = { ms: [] as number[], won: 0, problems: [] as string[] };
  try {
    // Open every connection first: the race should time booking, not TCP handshakes.
    await Promise.all(
      Array.from({ length: RACE_SIZE }, () =>
        request(`${appUrl}/healthz`, { dispatcher: agent }).then((r) => r.body.dump()),
      ),
    );
    for (let race = 0; race < RACES; race++) {
      await db.slots.ensure(1);
      const slot = db.slots.take() as number;
      const started = process.hrtime.bigint();
      const statuses = await Promise.all(
        Array.from({ length: RACE_SIZE }, async (_, i) => {
          return (await postBooking(api, slot, patients + i, `race-${race}-${i}`)).status;
        }),
      );
      result.ms.push(Number(process.hrtime.bigint() - started) / 1e6);
      const won = statuses.filter((status) => status === 201).length;
      const lost = statuses.filter((status) => status === 409).length;
      result.won += won;
      if (won !== 1 || lost !== RACE_SIZE - 1) {
        const others = statuses.filter((status) => status !== 201 && status !== 409);
        result.problems.push(
          `race ${race + 1}: ${won} × 201, ${lost} × 409, other statuses [${others.join(', ')}] (expected one 201)`,
        );
      }
    }
  } finally {
    await agent.close();
  }
  return result;
}
