// The booking race, with k6, against a real listening server. It is the same scenario as
// test/concurrency/booking-race.test.ts, which `npm test` runs wherever k6 is not installed;
// .github/workflows/concurrency_test.yml runs both.
//
// What it proves:
//   race   VUS virtual users (default 200), each with its own patient and Idempotency-Key, book ONE
//          slot at the same moment: exactly one 201, every other answer 409 slot_unavailable, and
//          afterwards exactly one active appointment on the slot (and one payment, the slot is priced).
//   twins  TWINS virtual users (default 50) send the same booking with ONE shared Idempotency-Key:
//          every answer is 201 with the same body, all but one carry `Idempotent-Replayed: true`,
//          and afterwards the slot has exactly one appointment.
//   Any other status (5xx, 400, a 409 with another code…) fails the run.
//
// Run it against a server nobody else is booking on (teardown also checks the server's own
// booking counters on /metrics, by difference):
//   k6 run -e BASE_URL=http://127.0.0.1:3000 -e CLINIC_ID=<uuid> -e CLINIC_ADMIN_TOKEN=<jwt> \
//     [-e VUS=200] [-e TWINS=50] test/concurrency/k6_booking_test.js
// `npm start` prints a clinic id (CLINIC) and a clinic_admin token (STAFF_TOKEN) for its demo clinic;
// `carebook token --role clinic_admin --clinic-id <uuid>` mints one for any clinic.
//
// Every threshold below must hold or k6 exits non-zero (99); an exception in setup or teardown
// exits non-zero too (107).
import { check, sleep } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter } from 'k6/metrics';

const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:3000').replace(/\/+$/, '');
const CLINIC_ID = __ENV.CLINIC_ID;
const TOKEN = __ENV.CLINIC_ADMIN_TOKEN;
const VUS = positiveInteger('VUS', 200);
const TWINS = positiveInteger('TWINS', 50);
// Every VU opens its connection first, then all wait for this instant after the scenario starts:
// the bookings leave together instead of trickling out behind TCP handshakes.
const BARRIER_MS = positiveInteger('BARRIER_MS', 2000);

if (!CLINIC_ID || !TOKEN) {
  throw new Error('set CLINIC_ID and CLINIC_ADMIN_TOKEN (-e CLINIC_ID=… -e CLINIC_ADMIN_TOKEN=…)');
}

const bookingSuccess = new Counter('booking_success');
const bookingConflict = new Counter('booking_conflict');
const bookingUnexpected = new Counter('booking_unexpected');
const twinCreated = new Counter('twin_created');
const twinReplayed = new Counter('twin_replayed');
const twinBodyMismatch = new Counter('twin_body_mismatch');
// Added to in teardown only. k6 counts setup() and teardown() samples toward thresholds (its own
// TestSetupTeardownThresholds asserts a Counter bumped in both reaches count == 2), and evaluates
// thresholds once more after teardown. Teardown also throws, so a failure does not depend on
// thresholds being enabled (`--no-thresholds`) and the reason is printed.
const teardownViolations = new Counter('teardown_violations');

export const options = {
  setupTimeout: '3m',
  teardownTimeout: '1m',
  scenarios: {
    race: {
      executor: 'per-vu-iterations',
      exec: 'race',
      vus: VUS,
      iterations: 1,
      maxDuration: '30s',
      gracefulStop: '5s',
    },
    // Starts once the race cannot be running any more (maxDuration + gracefulStop), so its requests
    // never mix with the race's. The race itself takes seconds; a race still running after 30s
    // fails the run, as it should.
    twins: {
      executor: 'per-vu-iterations',
      exec: 'twins',
      vus: TWINS,
      iterations: 1,
      startTime: '35s',
      maxDuration: '30s',
      gracefulStop: '5s',
    },
  },
  thresholds: {
    'booking_success{scenario:race}': ['count==1'],
    'booking_conflict{scenario:race}': [`count==${VUS - 1}`],
    booking_unexpected: ['count==0'],
    'twin_created{scenario:twins}': ['count==1'],
    'twin_replayed{scenario:twins}': [`count==${TWINS - 1}`],
    twin_body_mismatch: ['count==0'],
    teardown_violations: ['count==0'],
    checks: ['rate==1'],
  },
};

const ACTIVE = ['pending_payment', 'confirmed'];
const RACE_PRICE_CENTS = 2500;
const HOUR = 60 * 60 * 1000;

const jsonHeaders = {
  authorization: `Bearer ${TOKEN}`,
  'content-type': 'application/json',
};

export function setup() {
  const runId = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
  const clinic = `${BASE_URL}/api/clinics/${CLINIC_ID}`;

  const practitioner = created(
    http.post(
      `${clinic}/practitioners`,
      JSON.stringify({ full_name: `k6 Practitioner ${runId}`, email: `k6-${runId}@example.com` }),
      { headers: jsonHeaders, tags: { name: 'setup practitioner' } },
    ),
    'practitioner',
  );

  // One patient per racer plus one for the twins: a patient may hold only one appointment at a
  // time, so no racer's patient is reused.
  const patientIds = [];
  for (let first = 0; first <= VUS; first += 50) {
    const batch = [];
    for (let i = first; i < Math.min(first + 50, VUS + 1); i++) {
      batch.push([
        'POST',
        `${clinic}/patients`,
        JSON.stringify({ full_name: `k6 Patient ${runId} ${i}` }),
        { headers: jsonHeaders, tags: { name: 'setup patient' } },
      ]);
    }
    for (const response of http.batch(batch)) patientIds.push(created(response, 'patient').id);
  }

  // A fresh practitioner, so these slots cannot overlap another run's. The race slot is priced
  // (booking it makes a pending payment), the twins' slot is free, as in the Node test.
  const start = Math.ceil(Date.now() / HOUR) * HOUR + 24 * HOUR;
  const slot = (offsetHours, priced) => {
    const startsAt = start + offsetHours * HOUR;
    const body = {
      practitioner_id: practitioner.id,
      starts_at: new Date(startsAt).toISOString(),
      ends_at: new Date(startsAt + HOUR / 2).toISOString(),
      ...(priced ? { price_cents: RACE_PRICE_CENTS, currency: 'USD' } : {}),
    };
    const response = http.post(`${clinic}/slots`, JSON.stringify(body), {
      headers: jsonHeaders,
      tags: { name: 'setup slot' },
    });
    return created(response, 'slot').slots[0].id;
  };

  return {
    runId,
    raceSlotId: slot(0, true),
    twinSlotId: slot(1, false),
    patientIds: patientIds.slice(0, VUS),
    twinPatientId: patientIds[VUS],
    metricsBefore: bookingMetrics(),
  };
}

export function race(data) {
  // iterationInTest is 0…VUS-1 here (one iteration per VU), whichever VUs k6 hands the scenario.
  const index = exec.scenario.iterationInTest;
  const patientId = data.patientIds[index];
  waitForTheOthers();
  const response = book(data.raceSlotId, patientId, `k6-${data.runId}-race-${index}`);

  const won = response.status === 201;
  const lost = response.status === 409 && problemCode(response) === 'slot_unavailable';
  bookingSuccess.add(won ? 1 : 0);
  bookingConflict.add(lost ? 1 : 0);
  bookingUnexpected.add(won || lost ? 0 : 1);
  check(response, {
    'race: 201, or 409 slot_unavailable': () => won || lost,
    'race: a 409 is application/problem+json': () =>
      !lost || String(response.headers['Content-Type']).startsWith('application/problem+json'),
    'race: the 201 is a pending hold for this patient and slot, with a pending payment': () => {
      if (!won) return true;
      const body = response.json();
      return (
        body.appointment.slot_id === data.raceSlotId &&
        body.appointment.patient_id === patientId &&
        body.appointment.status === 'pending_payment' &&
        body.appointment.hold_expires_at !== null &&
        body.payment !== null &&
        body.payment.status === 'pending' &&
        body.payment.amount_cents === RACE_PRICE_CENTS
      );
    },
  });
  if (!won && !lost) reportUnexpected('race', response);
}

export function twins(data) {
  const key = `k6-${data.runId}-twins`;
  waitForTheOthers();
  const response = book(data.twinSlotId, data.twinPatientId, key);

  const ok = response.status === 201;
  const replayed = response.headers['Idempotent-Replayed'] === 'true';
  twinCreated.add(ok && !replayed ? 1 : 0);
  twinReplayed.add(ok && replayed ? 1 : 0);
  bookingUnexpected.add(ok ? 0 : 1);
  if (!ok) reportUnexpected('twins', response);

  // VUs share no memory, so "all bodies are identical" is proved through the server: once the race
  // is over the key has exactly one stored response, and a retry returns it. Every twin compares its
  // own body with that one; if all match, all match each other.
  const stored = book(data.twinSlotId, data.twinPatientId, key);
  const same = ok && stored.status === 201 && stored.body === response.body;
  twinBodyMismatch.add(same ? 0 : 1);
  check(null, {
    'twins: 201': () => ok,
    'twins: the appointment is confirmed (free slot) for the right slot and patient': () => {
      if (!ok) return false;
      const body = response.json();
      return (
        body.appointment.slot_id === data.twinSlotId &&
        body.appointment.patient_id === data.twinPatientId &&
        body.appointment.status === 'confirmed' &&
        body.payment === null
      );
    },
    'twins: a retry afterwards is a replay': () =>
      stored.status === 201 && stored.headers['Idempotent-Replayed'] === 'true',
    'twins: the body equals the stored response': () => same,
  });
  if (!same) {
    console.error(`twins: body differs from the stored response:\n  ${response.body}\n  ${stored.body}`);
  }
}

export function teardown(data) {
  const problems = [];
  const raceWinner = onlyActiveAppointment(data.raceSlotId, 'race', problems);
  onlyActiveAppointment(data.twinSlotId, 'twins', problems);

  // The winner's payment: one pending payment for the price of the slot.
  if (raceWinner) {
    const response = http.get(`${BASE_URL}/api/appointments/${raceWinner.id}`, {
      headers: jsonHeaders,
      tags: { name: 'teardown appointment' },
    });
    const payment = response.status === 200 ? response.json().payment : null;
    if (payment?.status !== 'pending' || payment.amount_cents !== RACE_PRICE_CENTS) {
      problems.push(`race: the winner has no pending payment of ${RACE_PRICE_CENTS} (${response.body})`);
    }
  }

  // The server counted every attempt by outcome: the losers as conflicts, the twins as replays
  // (TWINS - 1 in the race, TWINS more from the retries that compared bodies).
  const after = bookingMetrics();
  const delta = (name) => (after[name] ?? 0) - (data.metricsBefore[name] ?? 0);
  const expected = {
    'booking_attempts_total{outcome="created"}': 2,
    'booking_attempts_total{outcome="slot_unavailable"}': VUS - 1,
    'booking_attempts_total{outcome="replayed"}': 2 * TWINS - 1,
    'booking_attempts_total{outcome="error"}': 0,
    booking_conflicts_total: VUS - 1,
  };
  for (const [name, value] of Object.entries(expected)) {
    if (delta(name) !== value) problems.push(`/metrics: ${name} rose by ${delta(name)}, expected ${value}`);
  }

  for (const problem of problems) console.error(`teardown: ${problem}`);
  teardownViolations.add(problems.length);
  check(problems, { 'teardown: the slots and counters are as the race left them': (p) => p.length === 0 });
  if (problems.length > 0) {
    throw new Error(`the booking race left the database in a wrong state:\n  ${problems.join('\n  ')}`);
  }
}

/** The slot must have exactly one appointment, and it must be active. */
function onlyActiveAppointment(slotId, scenario, problems) {
  const response = http.get(`${BASE_URL}/api/appointments?slot_id=${slotId}`, {
    headers: jsonHeaders,
    tags: { name: 'teardown list' },
  });
  if (response.status !== 200) {
    problems.push(`${scenario}: GET /api/appointments answered ${response.status}: ${response.body}`);
    return null;
  }
  const appointments = response.json().appointments;
  if (appointments.length !== 1 || !ACTIVE.includes(appointments[0].status)) {
    const found = appointments.map((a) => `${a.id} ${a.status}`).join(', ') || 'none';
    problems.push(`${scenario}: slot ${slotId} should have exactly one active appointment, has: ${found}`);
    return null;
  }
  return appointments[0];
}

function book(slotId, patientId, key) {
  return http.post(
    `${BASE_URL}/api/appointments`,
    JSON.stringify({ slot_id: slotId, patient_id: patientId }),
    {
      headers: { ...jsonHeaders, 'Idempotency-Key': key },
      tags: { name: 'POST /api/appointments' },
      responseCallback: http.expectedStatuses(201, 409),
    },
  );
}

/** Opens this VU's connection, then sleeps until BARRIER_MS after its scenario started. */
function waitForTheOthers() {
  http.get(`${BASE_URL}/healthz`, { tags: { name: 'warm-up' } });
  const wait = exec.scenario.startTime + BARRIER_MS - Date.now();
  if (wait > 0) sleep(wait / 1000);
}

/** The booking counters of the server's Prometheus text, by series. */
function bookingMetrics() {
  const response = http.get(`${BASE_URL}/metrics`, { tags: { name: 'metrics' } });
  if (response.status !== 200) throw new Error(`GET /metrics answered ${response.status}`);
  const values = {};
  for (const line of response.body.split('\n')) {
    const match = /^(booking_(?:attempts|conflicts)_total(?:\{[^}]*\})?) (\d+(?:\.\d+)?)$/.exec(line);
    if (match) values[match[1]] = Number(match[2]);
  }
  return values;
}

function created(response, what) {
  if (response.status !== 201) {
    throw new Error(`setup: creating a ${what} answered ${response.status}: ${response.body}`);
  }
  return response.json();
}

function problemCode(response) {
  try {
    return response.json().code;
  } catch {
    return undefined;
  }
}

function reportUnexpected(scenario, response) {
  console.error(`${scenario}: unexpected ${response.status} ${response.error || ''}: ${response.body}`);
}

function positiveInteger(name, fallback) {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name}=${raw} is not a positive integer`);
  return value;
}
